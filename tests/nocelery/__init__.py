"""A project without Celery: settings and a launcher for the subprocess tests in
tests/core/test_without_celery.py (no example_shop here: it imports Celery)."""
