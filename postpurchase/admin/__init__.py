"""The Django admin: the flow editor and the records staff read, one module per area.

``admin.autodiscover()`` imports this package; importing the area modules registers them.
"""

from postpurchase.admin import (  # noqa: F401  (importing registers the ModelAdmins)
    analytics,
    coupons,
    emails,
    flows,
    health,
    nps,
    records,
    replenishment,
    tracking,
)
