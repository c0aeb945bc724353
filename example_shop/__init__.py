"""The example shop: a small real Django shop wired to django-postpurchase."""

# Load the Celery app with Django so ``@shared_task`` binds to it (Celery's convention).
from .celery import app as celery_app

__all__ = ("celery_app",)
