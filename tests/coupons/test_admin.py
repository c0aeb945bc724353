"""Coupon admin: results per policy, CSV export only with the export permission."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from postpurchase.admin.coupons import policy_stats
from postpurchase.coupons import issue_coupon, redeem_coupon
from postpurchase.models import Coupon, CouponPolicy
from postpurchase.testing.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def results(policy, contact, frozen):
    redeemed = issue_coupon(policy, contact)
    redeem_coupon(redeemed.code, contact.email, "order-1", Decimal("4990"))
    issue_coupon(policy, contact)  # will expire unused
    frozen.advance(timedelta(days=29))
    issue_coupon(policy, ContactFactory(email="=cmd|evil@example.com"))  # still valid
    frozen.advance(timedelta(days=2))
    return policy


def test_policy_stats(results, frozen):
    row = policy_stats(CouponPolicy.objects.all()).get()
    assert (row.issued_count, row.redeemed_count, row.expired_count) == (3, 1, 1)
    assert row.revenue == Decimal("4990")


def test_policy_changelist_shows_results(admin_client, results):
    response = admin_client.get(reverse("admin:postpurchase_couponpolicy_changelist"))
    assert response.status_code == 200
    text = response.content.decode()
    assert '<td class="field-issued">3</td>' in text
    assert '<td class="field-redeemed">1</td>' in text
    assert '<td class="field-expired">1</td>' in text
    assert '<td class="field-revenue_display">₽4,990</td>' in text
    response = admin_client.get(
        reverse("admin:postpurchase_couponpolicy_change", args=[results.pk])
    )
    assert response.status_code == 200
    assert '<div class="readonly">₽4,990</div>' in response.content.decode()


def test_policy_revenue_follows_the_staff_language(admin_client, results):
    response = admin_client.get(
        reverse("admin:postpurchase_couponpolicy_changelist"), HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert '<td class="field-revenue_display">4\xa0990\xa0₽</td>' in response.content.decode()


def test_csv_export(admin_client, results):
    ids = list(Coupon.objects.values_list("pk", flat=True))
    response = admin_client.post(
        reverse("admin:postpurchase_coupon_changelist"),
        {"action": "export_csv", "_selected_action": ids},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("code,email,policy")
    assert len(lines) == 4
    assert any(",'=cmd|evil@example.com," in line for line in lines)  # no formula
    assert any(line.endswith(",1,4990.00") for line in lines)


def test_csv_export_needs_the_permission(client, results):
    staff = User.objects.create_user("staff", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_coupon"))
    client.force_login(staff)
    url = reverse("admin:postpurchase_coupon_changelist")
    assert "export_csv" not in client.get(url).content.decode()
    ids = list(Coupon.objects.values_list("pk", flat=True))
    response = client.post(url, {"action": "export_csv", "_selected_action": ids})
    assert not response.get("Content-Type", "").startswith("text/csv")

    staff.user_permissions.add(Permission.objects.get(codename="export_coupon"))
    staff = User.objects.get(pk=staff.pk)
    client.force_login(staff)
    assert "export_csv" in client.get(url).content.decode()


def test_coupon_pages_open(admin_client, results):
    coupon = Coupon.objects.first()
    assert admin_client.get(reverse("admin:postpurchase_coupon_changelist")).status_code == 200
    assert (
        admin_client.get(reverse("admin:postpurchase_coupon_change", args=[coupon.pk])).status_code
        == 200
    )
    assert (
        admin_client.get(reverse("admin:postpurchase_couponredemption_changelist")).status_code
        == 200
    )
    assert admin_client.get(reverse("admin:postpurchase_couponpolicy_add")).status_code == 200
