"""Model fields of the app."""

from __future__ import annotations

from django.db import models

from postpurchase import clock


class ClockDateTimeField(models.DateTimeField):
    """A ``DateTimeField`` whose ``auto_now`` / ``auto_now_add`` read the app clock
    (:func:`postpurchase.clock.now`) instead of ``timezone.now()``, so a simulated run
    (the demo's ``--simulate``, tests) records simulated times."""

    def pre_save(self, model_instance, add):
        if self.auto_now or (self.auto_now_add and add):
            value = clock.now()
            setattr(model_instance, self.attname, value)
            return value
        return super().pre_save(model_instance, add)
