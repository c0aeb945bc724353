"""Recommendations from the app's own order history: products bought together with the
order's, pricier ones in the same category, and the bestsellers that fill up the rest.

``refresh()`` (the periodic job) folds new orders into cached tables; ``for_order()``
reads them with a few indexed queries, so an email renders without a heavy query.
``BaseAdapter.recommendations()`` calls ``for_order()``; see docs/recommendations.md.
"""

from postpurchase.recommendations.build import rebuild, refresh
from postpurchase.recommendations.select import for_order

__all__ = ["for_order", "rebuild", "refresh"]
