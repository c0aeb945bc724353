from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PostpurchaseOscarConfig(AppConfig):
    name = "postpurchase.contrib.oscar"
    label = "postpurchase_oscar"
    verbose_name = _("Post-purchase emails for Oscar")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the receivers of Oscar's signals and registers the system checks;
        # loaded here because they use Oscar's models, which load after this module.
        for module in ("receivers", "checks"):
            import_module(f"{self.name}.{module}")
