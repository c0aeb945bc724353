"""Celery tasks of postpurchase, here so Celery's ``autodiscover_tasks()`` finds them.

They live in :mod:`postpurchase.contrib.celery.tasks`; importing this module needs
Celery (``pip install "django-postpurchase[celery]"``), and nothing in the app imports
it.
"""

from postpurchase.contrib.celery.tasks import (
    advance_due,
    expire_coupons,
    run_enrollments,
    run_job,
    tick,
)

__all__ = ["advance_due", "expire_coupons", "run_enrollments", "run_job", "tick"]
