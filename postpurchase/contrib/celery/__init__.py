"""Celery and django-celery-beat support: the ``celery`` extra
(``pip install "django-postpurchase[celery]"``).

Importing this package never imports Celery or django-celery-beat, so the core app can:
``support`` tells whether they are installed and whether Celery mode is on, and ``beat``
reaches django-celery-beat's models through the app registry. The modules that do need
Celery, ``tasks`` and ``checks``, are loaded by ``PostpurchaseConfig.ready()`` in Celery
mode only (a worker's autodiscovery loads ``tasks`` through the ``postpurchase.tasks``
shim).
"""

from postpurchase.contrib.celery.beat import (
    EXPIRE_TASK_NAME,
    TICK_TASK_NAME,
    beat_schedule,
    register_periodic_tasks,
)
from postpurchase.contrib.celery.support import BEAT_INSTALLED, CELERY_INSTALLED, celery_mode

__all__ = [
    "BEAT_INSTALLED",
    "CELERY_INSTALLED",
    "EXPIRE_TASK_NAME",
    "TICK_TASK_NAME",
    "beat_schedule",
    "celery_mode",
    "register_periodic_tasks",
]
