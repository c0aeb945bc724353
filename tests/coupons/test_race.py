"""Two checkouts racing for a single-use code on real PostgreSQL: one redemption."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from postpurchase.coupons import CouponError, Reason, issue_coupon, redeem_coupon
from postpurchase.models import Coupon, CouponRedemption

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_connections_racing_for_a_single_use_code_redeem_once(policy, contact):
    code = issue_coupon(policy, contact).code
    start = threading.Barrier(2)
    won: list[str] = []
    lost: list[str] = []
    errors: list[Exception] = []

    def checkout(order_ref):
        try:
            start.wait(5)
            with transaction.atomic():
                redeem_coupon(code, contact.email, order_ref, Decimal("5000"))
                # Hold the lock a moment, like a checkout still writing its order.
                connection.cursor().execute("SELECT pg_sleep(0.3)")
            won.append(order_ref)
        except CouponError as exc:
            lost.append(exc.reason)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=checkout, args=(f"order-{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(won) == 1 and lost == [Reason.USED]
    assert CouponRedemption.objects.count() == 1
    assert CouponRedemption.objects.get().order_ref == won[0]
    assert Coupon.objects.get().uses_left == 0


def test_many_racers_for_a_three_use_code(policy, contact):
    policy.uses_per_code = 3
    policy.save()
    code = issue_coupon(policy, contact).code
    start = threading.Barrier(6)
    results: list[str] = []

    def checkout(order_ref):
        try:
            start.wait(5)
            redeem_coupon(code, contact.email, order_ref, Decimal("5000"))
            results.append("won")
        except CouponError as exc:
            results.append(exc.reason)
        finally:
            connection.close()

    threads = [threading.Thread(target=checkout, args=(f"o{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["used"] * 3 + ["won"] * 3
    assert CouponRedemption.objects.count() == 3
    assert Coupon.objects.get().uses_left == 0
