"""Anymail backends with the ESP's own API idempotency key, where Anymail has no way to
pass it. Use one instead of Anymail's in ``EMAIL_BACKEND``; everything else is Anymail's.
"""

from __future__ import annotations

from anymail.backends.resend import EmailBackend as AnymailResendBackend

from postpurchase.delivery.compose import META_MESSAGE


class ResendEmailBackend(AnymailResendBackend):
    """Anymail's Resend backend, plus Resend's ``Idempotency-Key`` HTTP header (the
    Message's UUID): Resend drops a second request with the same key for 24 hours,
    so a resend after a crash does not reach the customer twice.

    ``EMAIL_BACKEND = "postpurchase.delivery.backends.ResendEmailBackend"``
    """

    def build_message_payload(self, message, defaults):
        payload = super().build_message_payload(message, defaults)
        key = (getattr(message, "metadata", None) or {}).get(META_MESSAGE)
        if key:
            payload.headers["Idempotency-Key"] = str(key)
        return payload
