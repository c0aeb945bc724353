"""Celery app for the example shop (used when POSTPURCHASE["EXECUTION"] == "celery").

Run a worker and beat with::

    celery -A example_shop worker -l info
    celery -A example_shop beat -l info --scheduler django_celery_beat.schedulers:DatabaseScheduler
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_shop.settings")

app = Celery("example_shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
