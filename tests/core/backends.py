"""An Anymail test backend that fails for chosen recipients, like an ESP outage."""

import smtplib

from anymail.backends.test import EmailBackend
from anymail.exceptions import AnymailAPIError


class FlakyBackend(EmailBackend):
    failing: set[str] = set()

    def post_to_esp(self, payload, message):
        if any(address in self.failing for address in payload.recipient_emails):
            raise AnymailAPIError("ESP is down (503)")
        return super().post_to_esp(payload, message)


class RefusingBackend(EmailBackend):
    """An ESP whose error texts quote the recipient, as many do."""

    permanent = False

    def post_to_esp(self, payload, message):
        to = ", ".join(payload.recipient_emails)
        if self.permanent:
            raise smtplib.SMTPRecipientsRefused({to: (550, b"no such user")})
        raise AnymailAPIError(f"Invalid 'To' address: {to} (Zoë Quillfeather)")
