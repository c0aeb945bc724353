#!/usr/bin/env bash
# CI: the django-oscar integration (postpurchase.contrib.oscar) against a real
# django-oscar, in its own virtualenv: Oscar needs many apps and settings that the
# main suite's project (example_shop) does not have, and its venv stays without Oscar.
# Runs tests_oscar/ on SQLite. Called from .ci/run; runs alone too: bash .ci/oscar.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${OSCAR_VENV:-$ROOT/.venv-oscar}

say() { printf '\n=== %s\n' "$*"; }

say "oscar: install (-e .[dev,oscar] in $VENV)"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[dev,oscar]"
"$VENV/bin/python" -c 'import django, oscar; print("Django", django.get_version(), "/ django-oscar", oscar.get_version())'

export DJANGO_SETTINGS_MODULE=tests_oscar.settings PYTHONPATH="$ROOT"
say "oscar: system checks and migrations of the test shop"
"$VENV/bin/python" -m django check --fail-level ERROR
"$VENV/bin/python" -m django makemigrations --check --dry-run
"$VENV/bin/python" -m django migrate -v 0  # Oscar's and ours, on SQLite in memory

say "oscar: tests"
"$VENV/bin/python" -m pytest tests_oscar -c tests_oscar/pytest.ini
