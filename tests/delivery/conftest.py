"""A Postmark API faked at the HTTP layer (``responses``), behind Anymail's real
Postmark backend: what these tests send goes through the same payload building, HTTP
session and response parsing as a shop's production emails."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
import responses

POSTMARK_URL = "https://api.postmarkapp.com/email"


class FakePostmark:
    """Answers like Postmark's /email endpoint; ``answer`` may be replaced to inject
    errors (return (status, headers, body-dict))."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[dict] = []
        self.answer: Callable[[dict], tuple[int, dict, dict]] = self.ok
        self.on_receive: Callable[[dict], None] | None = None

    @staticmethod
    def ok(payload: dict) -> tuple[int, dict, dict]:
        return (
            200,
            {},
            {
                "To": payload.get("To"),
                "SubmittedAt": "2026-11-23T10:00:00Z",
                "MessageID": str(uuid.uuid4()),
                "ErrorCode": 0,
                "Message": "OK",
            },
        )

    def callback(self, request):
        payload = json.loads(request.body)
        status, headers, body = self.answer(payload)
        if status == 200:
            with self.lock:
                self.received.append(payload)
            if self.on_receive is not None:
                self.on_receive(payload)
        return status, headers, json.dumps(body)

    def message_ids(self) -> Counter:
        """How many times each of our messages (by its metadata id) was received."""
        with self.lock:
            return Counter(p.get("Metadata", {}).get("postpurchase_message") for p in self.received)


def postmark_error(status: int, code: int = 0, message: str = "error", headers=None):
    return lambda payload: (status, headers or {}, {"ErrorCode": code, "Message": message})


@pytest.fixture
def postmark(settings):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "test-server-token"}
    fake = FakePostmark()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, POSTMARK_URL, callback=fake.callback)
        yield fake
