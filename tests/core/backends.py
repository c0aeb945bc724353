"""An Anymail test backend that fails for chosen recipients, like an ESP outage."""

from anymail.backends.test import EmailBackend
from anymail.exceptions import AnymailAPIError


class FlakyBackend(EmailBackend):
    failing: set[str] = set()

    def post_to_esp(self, payload, message):
        if any(address in self.failing for address in payload.recipient_emails):
            raise AnymailAPIError("ESP is down (503)")
        return super().post_to_esp(payload, message)


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
