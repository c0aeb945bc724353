"""django-oscar integration: ``pip install "django-postpurchase[oscar]"``.

Add ``"postpurchase.contrib.oscar"`` to ``INSTALLED_APPS`` (after Oscar's apps) and set
``POSTPURCHASE["ADAPTER"] = "postpurchase.contrib.oscar.adapter.OscarAdapter"`` (or a
subclass of it). The app then forwards Oscar's ``order_placed``, ``order_status_changed``
(mapped by ``POSTPURCHASE["OSCAR_ORDER_STATUSES"]``) and ``review_added`` signals to
postpurchase's inbound signals, mirrors every issued code as an Oscar voucher, and
reports the vouchers Oscar's checkout used back as redemptions. See docs/oscar.md.

Nothing else in postpurchase imports this package or Oscar.
"""
