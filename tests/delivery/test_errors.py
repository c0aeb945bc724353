"""How an email backend's exception is read: what may have been sent, what comes back."""

from __future__ import annotations

import smtplib
from types import SimpleNamespace

import pytest
from anymail.exceptions import AnymailAPIError, AnymailRequestsAPIError

from postpurchase.delivery import errors
from postpurchase.delivery.sender import rate_limit_slot


def answered(status: int, headers=None):
    response = SimpleNamespace(status_code=status, headers=headers or {}, text="", reason="")
    return AnymailRequestsAPIError("Invalid JSON in Postmark API response", response=response)


def test_an_unreadable_2xx_answer_may_have_been_sent():
    verdict = errors.classify(answered(200))
    assert verdict.kind == errors.TRANSIENT and verdict.maybe_sent


def test_a_timeout_outside_requests_may_have_been_sent():
    assert errors.classify(TimeoutError("timed out waiting for 250")).maybe_sent
    wrapped = AnymailAPIError("SES call failed")
    wrapped.__cause__ = TimeoutError("read timeout")
    assert errors.classify(wrapped).maybe_sent


def test_a_refused_connection_was_not_sent():
    verdict = errors.classify(ConnectionRefusedError(111, "refused"))
    assert verdict.kind == errors.TRANSIENT and not verdict.maybe_sent


@pytest.mark.parametrize("code", [450, 451, 452])
def test_a_temporary_smtp_refusal_of_the_recipient_comes_back_later(code):
    exc = smtplib.SMTPRecipientsRefused({"anna@example.com": (code, b"greylisted")})
    verdict = errors.classify(exc)
    assert verdict.kind == errors.THROTTLED and not verdict.address


def test_a_permanent_smtp_refusal_of_the_recipient_is_the_address():
    exc = smtplib.SMTPRecipientsRefused({"anna@example.com": (550, b"no such user")})
    verdict = errors.classify(exc)
    assert verdict.kind == errors.REFUSED and verdict.address


def test_a_temporary_sender_refusal_is_retried():
    assert errors.classify(smtplib.SMTPSenderRefused(451, b"try later", "shop@x")).kind == (
        errors.TRANSIENT
    )


def ses_error(status: int, code: str):
    cause = Exception(code)
    cause.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    exc = AnymailAPIError(f"SES: {code}")
    exc.__cause__ = cause
    return exc


def test_amazon_ses_answers_are_read_by_their_status():
    assert errors.classify(ses_error(400, "MessageRejected")).kind == errors.REFUSED
    assert errors.classify(ses_error(403, "AccessDenied")).kind == errors.CONFIG
    assert errors.classify(ses_error(400, "Throttling")).kind == errors.THROTTLED
    assert errors.classify(ses_error(500, "InternalFailure")).kind == errors.TRANSIENT


def test_retry_after_as_an_http_date_and_as_seconds():
    assert errors.retry_after(SimpleNamespace(headers={"Retry-After": "120"})) == 120
    date = SimpleNamespace(headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert errors.retry_after(date) == errors.MIN_RETRY_AFTER  # in the past
    assert errors.retry_after(SimpleNamespace(headers={})) == errors.DEFAULT_THROTTLE_SECONDS


def test_a_rate_limit_cache_that_is_down_does_not_fail_the_email(settings):
    settings.CACHES = {"default": {"BACKEND": "tests.delivery.test_errors.BrokenCache"}}
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "RATE_LIMIT": 5}
    assert rate_limit_slot() is True


class BrokenCache:
    def __init__(self, *args, **kwargs):
        pass

    def add(self, *args, **kwargs):
        raise ConnectionError("cache server down")

    incr = add

    def close(self, **kwargs):
        pass
