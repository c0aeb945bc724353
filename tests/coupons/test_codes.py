"""Code format, entropy and uniqueness; policy validation."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from postpurchase import clock
from postpurchase.coupons import CODE_ALPHABET, generate_code, issue_coupon, normalize_code
from postpurchase.models import Coupon, CouponPolicy
from postpurchase.models.coupons import MIN_CODE_LENGTH, code_entropy_bits


def test_alphabet_has_no_look_alikes():
    for ambiguous in "0O1IL":
        assert ambiguous not in CODE_ALPHABET
    assert len(set(CODE_ALPHABET)) == len(CODE_ALPHABET)


def test_code_format_and_entropy():
    code = generate_code(12, "THX-")
    assert re.fullmatch(rf"THX-[{CODE_ALPHABET}]{{12}}", code)
    assert code_entropy_bits(12) >= 50
    assert MIN_CODE_LENGTH * math.log2(len(CODE_ALPHABET)) >= 50
    assert (MIN_CODE_LENGTH - 1) * math.log2(len(CODE_ALPHABET)) < 50
    with pytest.raises(ValueError):
        generate_code(MIN_CODE_LENGTH - 1)


def test_100k_codes_are_unique_and_use_only_the_alphabet():
    codes = [generate_code(MIN_CODE_LENGTH) for _ in range(100_000)]
    assert len(set(codes)) == len(codes)
    allowed = set(CODE_ALPHABET)
    assert set("".join(codes)) <= allowed
    # Every character shows up with roughly equal frequency (secrets, not a bias).
    counts = {c: 0 for c in CODE_ALPHABET}
    for code in codes:
        for c in code:
            counts[c] += 1
    expected = len(codes) * MIN_CODE_LENGTH / len(CODE_ALPHABET)
    assert all(abs(n - expected) < expected * 0.05 for n in counts.values())


def test_normalize_code():
    assert normalize_code(" thx-abcd 2345 ") == "THX-ABCD2345"


@pytest.mark.django_db
def test_database_refuses_a_duplicate_code(policy, contact):
    coupon = issue_coupon(policy, contact)
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.create(
            policy=policy,
            code=coupon.code,
            contact=contact,
            kind=policy.kind,
            uses_left=1,
            issued_at=clock.now(),
            expires_at=clock.now(),
        )


@pytest.mark.django_db
def test_issue_retries_on_a_code_collision(policy, contact, monkeypatch):
    first = issue_coupon(policy, contact)
    codes = iter([first.code, "THX-" + "A" * 12])
    monkeypatch.setattr("postpurchase.coupons.generate_code", lambda *a, **k: next(codes))
    second = issue_coupon(policy, contact)
    assert second.code == "THX-" + "A" * 12


def _policy(**kwargs):
    values = {"name": "p", "kind": "percent", "percent": Decimal("10"), "code_length": 12}
    values.update(kwargs)
    return CouponPolicy(**values)


@pytest.mark.parametrize(
    ("kwargs", "field", "text"),
    [
        ({"code_length": 8}, "code_length", "too easy to guess"),
        ({"percent": None}, "percent", "needs the percent"),
        ({"kind": "fixed", "percent": None, "amount": Decimal("500")}, "currency", "currency"),
        ({"kind": "fixed", "percent": None, "currency": "RUB"}, "amount", "greater than zero"),
        ({"kind": "free_shipping"}, "kind", "neither a percent nor an amount"),
        ({"minimum_total": Decimal("100")}, "currency", "minimum order total"),
        ({"code_prefix": "PROMO0-"}, "code_prefix", "look-alikes"),
        ({"percent": Decimal("150")}, "percent", "100"),
    ],
)
def test_policy_validation_messages(kwargs, field, text):
    with pytest.raises(ValidationError) as info:
        _policy(**kwargs).full_clean()
    messages = " ".join(str(m) for m in info.value.message_dict[field])
    assert text in messages


def test_valid_policies_pass():
    _policy().full_clean()
    _policy(kind="fixed", percent=None, amount=Decimal("500"), currency="rub").full_clean()
    _policy(
        kind="free_shipping", percent=None, minimum_total=Decimal("3000"), currency="RUB"
    ).full_clean()
    _policy(code_length=MIN_CODE_LENGTH, code_prefix="THX-").full_clean()
