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


class SimulatedCrash(BaseException):
    """Stands for kill -9: nothing catches it, nothing after it runs."""


class CrashAfterAcceptBackend(EmailBackend):
    """The ESP accepts the email (it is in ``mail.outbox``), then the worker dies before
    it can record the answer. Set ``armed`` to crash on the next send only."""

    armed = False

    def send_messages(self, email_messages):
        sent = super().send_messages(email_messages)
        if CrashAfterAcceptBackend.armed:
            CrashAfterAcceptBackend.armed = False
            raise SimulatedCrash
        return sent
