"""System checks that need Celery itself (loaded by ready() in Celery mode only)."""

from __future__ import annotations

from celery import current_app
from django.core.checks import Tags, Warning, register

from postpurchase.contrib.celery.support import celery_mode


@register(Tags.compatibility)
def check_broker(app_configs=None, **kwargs):
    """An unset broker is not an error to Celery: it publishes to amqp://localhost,
    which on most shops' servers is nothing, and every wake-up is lost until the tick."""
    if not celery_mode():
        return []
    conf = current_app.conf
    if conf.broker_write_url or conf.broker_url:
        return []
    return [
        Warning(
            'POSTPURCHASE["EXECUTION"] is "celery" but Celery has no broker configured '
            "(no CELERY_BROKER_URL): tasks would be published to Celery's default, "
            "amqp://guest@localhost:5672//.",
            hint='Set CELERY_BROKER_URL (e.g. "redis://localhost:6379/0") and load it in '
            'your Celery app: app.config_from_object("django.conf:settings", '
            'namespace="CELERY"); see docs/production.md.',
            id="postpurchase.W004",
        )
    ]
