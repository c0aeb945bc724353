"""The recipes this app ships, in the order the admin and ``list`` show them."""

from .post_purchase import POST_PURCHASE_SERIES

CATALOG = [POST_PURCHASE_SERIES]
