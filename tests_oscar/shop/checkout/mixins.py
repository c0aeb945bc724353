from oscar.apps.checkout import mixins

from postpurchase.contrib.oscar.checkout import NoOscarConfirmationMixin


class OrderPlacementMixin(NoOscarConfirmationMixin, mixins.OrderPlacementMixin):
    pass
