"""Helpers for testing a shop that uses django-postpurchase.

``postpurchase.testing.factories`` needs factory-boy (``pip install
django-postpurchase[factories]``); the app itself never imports this package.
"""
