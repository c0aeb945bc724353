from importlib import import_module

from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_delete
from django.utils.translation import gettext_lazy as _


class PostpurchaseConfig(AppConfig):
    name = "postpurchase"
    verbose_name = _("Post-purchase emails")
    # Fixed, so a host project's DEFAULT_AUTO_FIELD never makes migrations for us.
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: they import the models, which Django loads
        # after this module.
        from postpurchase import checks  # noqa: F401  (registers the system checks)
        from postpurchase.analytics.attribution import connect as connect_attribution
        from postpurchase.contrib.celery import (
            CELERY_INSTALLED,
            celery_mode,
            register_periodic_tasks,
        )
        from postpurchase.events import connect_inbound_signals
        from postpurchase.flows.operations import _on_step_delete
        from postpurchase.replenishment.predict import connect as connect_replenishment
        from postpurchase.steps import BUILTIN
        from postpurchase.tracking.receivers import connect as connect_tracking

        for module in BUILTIN:  # each registers its step kind's behaviour
            import_module(module)
        connect_inbound_signals()
        connect_tracking()
        connect_attribution()
        connect_replenishment()
        # No sender: deleting a step of any subclass (a shop's too) must be seen.
        pre_delete.connect(_on_step_delete, dispatch_uid="postpurchase.step_delete")
        post_migrate.connect(
            register_periodic_tasks, sender=self, dispatch_uid="postpurchase.register_tick"
        )
        if CELERY_INSTALLED and celery_mode():
            # The tasks wake-ups go to, and the broker check. Nothing else imports
            # Celery, so inline and sync shops need not install it.
            for module in ("tasks", "checks"):
                import_module(f"{self.name}.contrib.celery.{module}")
