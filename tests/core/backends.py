"""An Anymail test backend that fails for chosen recipients, like an ESP outage."""

from anymail.backends.test import EmailBackend
from anymail.exceptions import AnymailAPIError


class FlakyBackend(EmailBackend):
    failing: set[str] = set()

    def post_to_esp(self, payload, message):
        if any(address in self.failing for address in payload.recipient_emails):
            raise AnymailAPIError("ESP is down (503)")
        return super().post_to_esp(payload, message)
