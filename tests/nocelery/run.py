"""``manage.py`` for tests/nocelery/settings.py, optionally as if Celery were not installed.

With NOCELERY_BLOCK=1, importing celery, kombu or django_celery_beat raises ImportError
(even though the dev environment has them), the way it would on a shop that never
installed the ``celery`` extra.
"""

import importlib.abc
import os
import sys
from pathlib import Path

BLOCKED = ("celery", "kombu", "django_celery_beat")


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"No module named {name!r} (blocked by tests/nocelery/run.py)")
        return None


if os.environ.get("NOCELERY_BLOCK") == "1":
    sys.meta_path.insert(0, Blocker())
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.nocelery.settings"

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
