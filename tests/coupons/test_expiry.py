"""Expiry on a simulated clock: the command and the task call the adapter hook once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command

from postpurchase import tasks
from postpurchase.coupons import Reason, expire_coupons, issue_coupon, validate_coupon
from postpurchase.models import Coupon

pytestmark = pytest.mark.django_db


def test_expire_command_calls_the_hook_once_per_coupon(policy, contact, frozen, hooks, capsys):
    old = issue_coupon(policy, contact)
    frozen.advance(timedelta(days=10))
    fresh = issue_coupon(policy, contact)

    frozen.advance(timedelta(days=20))  # old has just expired, fresh has 10 days left
    call_command("postpurchase_expire_coupons")
    assert "Expired 1 coupon(s)." in capsys.readouterr().out
    assert hooks.expired == [old.code]
    call_command("postpurchase_expire_coupons")
    assert hooks.expired == [old.code]  # never twice
    old.refresh_from_db()
    assert old.expired_at == frozen.now
    assert validate_coupon(old.code, contact.email, 5000).reason == Reason.EXPIRED
    assert validate_coupon(fresh.code, contact.email, 5000).ok

    frozen.advance(timedelta(days=10))
    assert tasks.expire_coupons() == 1
    assert hooks.expired == [old.code, fresh.code]
    assert Coupon.objects.filter(expired_at__isnull=True).count() == 0


def test_expiry_in_batches(policy, contact, frozen, hooks):
    for _ in range(5):
        issue_coupon(policy, contact)
    frozen.advance(timedelta(days=31))
    assert expire_coupons(batch_size=2) == 5
    assert len(hooks.expired) == 5


def test_a_failing_hook_is_logged_and_the_rest_goes_on(policy, contact, frozen, hooks, caplog):
    issue_coupon(policy, contact)
    issue_coupon(policy, contact)

    def boom(coupon):
        raise RuntimeError("shop API down")

    hooks.coupon_expired = boom
    frozen.advance(timedelta(days=31))
    assert expire_coupons() == 2
    assert "coupon_expired failed" in caplog.text
