"""The default series through Anymail's real ESP backends, only HTTP faked (``responses``):
Postmark, SendGrid, Mailgun, Brevo and Resend build, post and parse as in production.

Also over HTTP: a backend that refuses our tags (a configuration error, caught by the
system check and the go-live validation too), an IDN address, 429 / 503 / 422 answers,
and one reused ESP connection per sending thread.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import responses
from anymail.backends.postmark import EmailBackend as PostmarkBackend
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from postpurchase import engine, track
from postpurchase.checks import check_email_backend
from postpurchase.flows.validation import validate_flow
from postpurchase.models import Enrollment, Message
from postpurchase.public.tokens import read_unsubscribe_token, unsubscribe_url
from postpurchase.testing.esp import ESPS, fake_esp
from postpurchase.testing.factories import order_snapshot

from ..core.helpers import place, run_clock

pytestmark = [
    pytest.mark.django_db,
    # Anymail warns once per SendGrid connection that it no longer supports SendGrid.
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

META = "postpurchase_message"


@pytest.fixture(params=sorted(ESPS))
def esp(request, settings):
    """Each ESP's real Anymail backend, its send API faked."""
    with fake_esp(request.param) as fake:
        settings.EMAIL_BACKEND = fake.backend
        settings.ANYMAIL = fake.anymail
        yield fake


def lower_keys(headers: dict) -> dict:
    return {k.lower(): v for k, v in headers.items()}


# --- the default series, ESP by ESP ----------------------------------------------------


def test_default_series_reaches_the_esp_once_each(
    esp, default_flow, frozen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        place()
    run_clock(frozen)

    enrollment = Enrollment.objects.get()
    assert enrollment.status == Enrollment.Status.COMPLETED
    messages = list(Message.objects.order_by("created_at"))
    assert [m.category for m in messages] == ["transactional", "marketing", "marketing"]
    assert [m.status for m in messages] == ["sent"] * 3, [m.error for m in messages]

    # Every request was answered by the fake (none failed, none went anywhere else)...
    assert [r.status for r in esp.received] == [r.status for r in esp.accepted]
    assert len(esp.mock.calls) == len(esp.received) == 3
    # ... and each of the three emails arrived exactly once, found by its metadata.
    assert esp.message_counts() == {str(m.pk): 1 for m in messages}

    by_message = {r.metadata[META]: r for r in esp.received}
    for message in messages:
        got = by_message[str(message.pk)]
        assert message.esp_message_id, f"{esp.esp.name}: no ESP message id recorded"
        assert message.esp_message_id == got.message_id
        assert message.esp_name == esp.esp.name
        assert message.attempts == 1
        assert {
            "postpurchase_message": str(message.pk),
            "postpurchase_flow": str(default_flow.pk),
            "postpurchase_step": str(message.step_id),
        }.items() <= got.metadata.items()
        # One tag, the category (Postmark's "Tag" takes only one).
        assert got.tags == [message.category]
        assert got.recipients == ["anna@example.com"]
        assert got.to == ["Anna <anna@example.com>"]
        headers = lower_keys(got.headers)
        assert headers["idempotency-key"] == str(message.pk)
        if message.category == "marketing":
            # The token carries its signing time: compare what it says, not its text.
            prefix = unsubscribe_url(message.contact_id, message.pk).rsplit("/", 2)[0]
            link = headers["list-unsubscribe"]
            assert link.startswith(f"<{prefix}/") and link.endswith("/>")
            token = read_unsubscribe_token(link[1:-2].rsplit("/", 1)[1])
            assert (token.contact_id, str(token.message_id)) == (
                message.contact_id,
                str(message.pk),
            )
            assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
        else:
            assert "list-unsubscribe" not in headers
            assert "list-unsubscribe-post" not in headers
        # responses patches requests for the whole process: the sending threads'
        # requests were answered by the fake, not by a real ESP.
        assert got.thread.startswith("postpurchase-send"), got.thread
        assert got.thread != threading.main_thread().name


def test_each_esp_payload_looks_like_its_api(esp, default_flow, frozen):
    """Where each ESP's API carries what we check (guards the fake's parsing)."""
    place()
    engine.run_due()
    (got,) = esp.received
    payload = got.payload
    message = Message.objects.get()
    name = esp.esp.name
    if name == "postmark":
        assert payload["Metadata"][META] == str(message.pk)
        assert payload["Tag"] == "transactional"
        assert {"Name": "Idempotency-Key", "Value": str(message.pk)} in payload["Headers"]
    elif name == "sendgrid":
        assert payload["custom_args"][META] == str(message.pk)
        assert payload["categories"] == ["transactional"]
        assert payload["personalizations"][0]["custom_args"]["anymail_id"] == (
            message.esp_message_id
        )
    elif name == "mailgun":
        assert payload[f"v:{META}"] == [str(message.pk)]
        assert payload["o:tag"] == ["transactional"]
        assert payload["h:Idempotency-Key"] == [str(message.pk)]
    elif name == "brevo":
        assert json.loads(payload["headers"]["X-Mailin-custom"])[META] == str(message.pk)
        assert payload["tags"] == ["transactional"]
    elif name == "resend":
        assert json.loads(payload["headers"]["X-Metadata"])[META] == str(message.pk)
        assert json.loads(payload["headers"]["X-Tags"]) == ["transactional"]
    else:  # pragma: no cover - a new ESP in ESPS needs its own case here
        pytest.fail(f"no payload check for {name}")


# --- a backend that cannot send what we build: a configuration error ---------------------


def test_postmark_refuses_two_tags_as_a_configuration_error(
    fake_postmark, default_flow, frozen, settings, django_capture_on_commit_callbacks
):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "TAGS": ["category", "flow"]}
    with django_capture_on_commit_callbacks(execute=True):
        place()

    assert fake_postmark.received == []
    assert len(fake_postmark.mock.calls) == 0
    message = Message.objects.get()
    assert message.status == "failed"
    assert message.error.startswith("ESP configuration error: ")
    assert "AnymailUnsupportedFeature" in message.error
    assert "multiple tags" in message.error
    enrollment = Enrollment.objects.get()
    assert enrollment.status == Enrollment.Status.FAILED, "a config error is not retried"
    assert "multiple tags" in enrollment.last_error
    # Nothing waits for a retry: a month later still nothing was sent or tried.
    assert engine.next_due_at() is None
    run_clock(frozen)
    assert len(fake_postmark.mock.calls) == 0
    assert Message.objects.count() == 1

    # Caught before sending, too: the system check ...
    found = check_email_backend()
    assert [e.id for e in found] == ["postpurchase.E008"]
    assert "multiple tags" in found[0].msg
    assert "postpurchase.E008" in {e.id for e in run_checks()}
    with pytest.raises(SystemCheckError, match="postpurchase.E008"):
        call_command("check")
    # ... and the go-live validation.
    problems = [str(p) for p in validate_flow(default_flow)]
    assert any("Postmark" in p and "multiple tags" in p for p in problems), problems
    # With one tag, both are satisfied.
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "TAGS": ["category"]}
    assert check_email_backend() == []
    assert validate_flow(default_flow) == []
    assert len(fake_postmark.mock.calls) == 0  # the checks build payloads; they never post


# --- an international domain, with a name -----------------------------------------------


def test_idn_address_with_a_name_is_sent_in_idna_form(
    fake_postmark, default_flow, frozen, django_capture_on_commit_callbacks
):
    email = "anna@пример.рф"
    with django_capture_on_commit_callbacks(execute=True):
        track(
            "order_placed",
            email=email,
            data={"order": order_snapshot(email=email, first_name="Анна", locale="ru")},
            order_ref="shop.order:1001",
            contact={"first_name": "Анна", "last_name": "Петрова", "locale": "ru"},
        )
    (got,) = fake_postmark.received
    assert got.payload["To"] == "Анна Петрова <anna@xn--e1afmkfd.xn--p1ai>"
    assert got.recipients == ["anna@xn--e1afmkfd.xn--p1ai"]
    message = Message.objects.get()
    assert message.status == "sent"
    assert message.esp_message_id == got.message_id


# --- ESP errors ------------------------------------------------------------------------


def throttled_once(fake_postmark, capture) -> tuple[Message, Enrollment]:
    """The thank-you's first request gets Postmark's 429 with ``Retry-After: 120``."""
    fake_postmark.answer_next(
        429, headers={"Retry-After": "120"}, message="Rate limit exceeded; slow down."
    )
    with capture(execute=True):
        place()
    return Message.objects.get(), Enrollment.objects.get()


def test_429_defers_until_retry_after_without_spending_an_attempt(
    fake_postmark, default_flow, frozen, django_capture_on_commit_callbacks
):
    message, enrollment = throttled_once(fake_postmark, django_capture_on_commit_callbacks)
    (throttled,) = fake_postmark.received
    assert throttled.status == 429
    assert message.status == "retrying"
    assert message.attempts == 0
    assert "429" in message.error
    assert enrollment.status == Enrollment.Status.ACTIVE
    assert enrollment.attempts == 0
    assert enrollment.due_at == frozen.now + timedelta(seconds=120)
    # Not before the Retry-After.
    frozen.advance(timedelta(seconds=119))
    assert engine.run_due() == 0
    assert len(fake_postmark.received) == 1


def test_429_then_sent_once_when_the_retry_after_has_passed(
    fake_postmark, default_flow, frozen, django_capture_on_commit_callbacks
):
    message, enrollment = throttled_once(fake_postmark, django_capture_on_commit_callbacks)
    frozen.set(enrollment.due_at)  # 120 s later (simulated); the ESP now answers 200
    assert engine.run_due() == 1
    message.refresh_from_db()
    enrollment.refresh_from_db()
    assert [r.status for r in fake_postmark.received] == [429, 200], (
        f"no second request after the Retry-After; the message is {message.status!r} "
        f"and its enrollment due again in "
        f"{(enrollment.due_at - frozen.now).total_seconds():.0f} s ({enrollment.last_error!r})"
    )
    assert message.status == "sent", message.error
    assert message.attempts == 1
    assert fake_postmark.message_counts() == {str(message.pk): 1}
    assert message.esp_message_id == fake_postmark.accepted[0].message_id


def test_503_is_retried_with_backoff_until_the_esp_recovers(
    fake_postmark, default_flow, frozen, django_capture_on_commit_callbacks
):
    fake_postmark.answer_next(503, message="Service unavailable", times=2)
    with django_capture_on_commit_callbacks(execute=True):
        place()
    message = Message.objects.get()
    enrollment = Enrollment.objects.get()
    assert (message.status, message.attempts) == ("retrying", 1)
    assert enrollment.due_at == frozen.now + timedelta(seconds=60)

    frozen.set(enrollment.due_at)
    engine.run_due()
    message.refresh_from_db()
    enrollment.refresh_from_db()
    assert (message.status, message.attempts) == ("retrying", 2)
    assert enrollment.due_at == frozen.now + timedelta(seconds=120)  # doubled

    frozen.set(enrollment.due_at)
    engine.run_due()
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 3)
    assert [r.status for r in fake_postmark.received] == [503, 503, 200]
    assert fake_postmark.message_counts() == {str(message.pk): 1}
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "postmark_message, enrollment_status",
    [
        # Not about the recipient: Anymail raises AnymailRequestsAPIError (HTTP 422).
        ("Invalid 'From' address: 'shop@example'.", Enrollment.Status.FAILED),
        # About the recipient: Anymail raises AnymailRecipientsRefused; later emails to
        # the address would be refused too, so the series stops (exited).
        ("Invalid 'To' address: 'anna@example.com'.", Enrollment.Status.EXITED),
    ],
)
def test_422_invalid_email_request_fails_that_message_at_once(
    fake_postmark,
    default_flow,
    frozen,
    django_capture_on_commit_callbacks,
    postmark_message,
    enrollment_status,
):
    fake_postmark.answer_next(422, {"ErrorCode": 300, "Message": postmark_message})
    with django_capture_on_commit_callbacks(execute=True):
        place()
    message = Message.objects.get()
    assert message.status == "failed"
    assert message.attempts == 1
    assert "ESP configuration error" not in message.error
    enrollment = Enrollment.objects.get()
    assert enrollment.status == enrollment_status
    # No retry: nothing more reaches the ESP, ever.
    run_clock(frozen)
    assert [r.status for r in fake_postmark.received] == [422]
    assert Message.objects.count() == 1


# --- one reused connection per sending thread -------------------------------------------


class CountingPostmarkBackend(PostmarkBackend):
    """Postmark's backend, counting the HTTP sessions it opens (one per instance)."""

    lock = threading.Lock()
    sessions = 0

    def open(self):
        created = super().open()
        if created:
            with CountingPostmarkBackend.lock:
                CountingPostmarkBackend.sessions += 1
        return created


def test_each_sending_thread_reuses_one_connection(fake_postmark, default_flow, frozen, settings):
    settings.EMAIL_BACKEND = f"{__name__}.{CountingPostmarkBackend.__name__}"
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "SEND_CONCURRENCY": 2}
    CountingPostmarkBackend.sessions = 0
    count = 9
    for i in range(count):
        place(email=f"c{i}@example.com", number=str(2000 + i))
    assert engine.run_due() == count  # all due at once, one batch

    assert Message.objects.filter(status="sent").count() == count
    assert len(fake_postmark.accepted) == count
    assert len(fake_postmark.message_counts()) == count
    assert set(fake_postmark.message_counts().values()) == {1}
    assert 1 <= CountingPostmarkBackend.sessions <= 2
    threads = {r.thread for r in fake_postmark.received}
    assert 1 <= len(threads) <= 2
    assert all(t.startswith("postpurchase-send") for t in threads)


def test_responses_mocks_only_what_it_registers(fake_postmark):
    """Anything else a sending thread might call is refused, never sent for real."""
    import requests

    with pytest.raises(requests.ConnectionError):
        requests.post("https://api.postmarkapp.com/email/batch", json=[], timeout=1)
    assert isinstance(fake_postmark.mock, responses.RequestsMock)


def test_the_fake_reads_mailgun_multipart_forms_and_quoted_names(settings):
    """An attachment turns Mailgun's form into multipart; names may hold commas."""
    from anymail.message import AnymailMessage
    from django.core.mail import get_connection

    with fake_esp("mailgun") as fake:
        settings.EMAIL_BACKEND = fake.backend
        settings.ANYMAIL = fake.anymail
        email = AnymailMessage(
            subject="Invoice",
            body="See attached",
            from_email="shop@example.com",
            to=['"Petrova, Anna" <anna@example.com>', "bob@example.com"],
            metadata={META: "abc"},
            tags=["transactional"],
            headers={"List-Unsubscribe": "<https://shop.example.com/u/1/>"},
            connection=get_connection(),
        )
        email.attach("invoice.txt", "total: 10", "text/plain")
        assert email.send() == 1
        content_type = fake.mock.calls[0].request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data")
    (got,) = fake.received
    assert got.metadata == {META: "abc"}
    assert got.tags == ["transactional"]
    assert got.headers["List-Unsubscribe"] == "<https://shop.example.com/u/1/>"
    assert got.recipients == ["anna@example.com", "bob@example.com"]
    assert email.anymail_status.message_id == got.message_id
