from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class PostpurchaseConfig(AppConfig):
    name = "postpurchase"
    verbose_name = _("Post-purchase emails")
    # Fixed, so a host project's DEFAULT_AUTO_FIELD never makes migrations for us.
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .events import connect_inbound_signals
        from .schedule import register_periodic_tick

        connect_inbound_signals()
        post_migrate.connect(
            register_periodic_tick, sender=self, dispatch_uid="postpurchase.register_tick"
        )
