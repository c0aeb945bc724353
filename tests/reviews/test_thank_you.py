"""D1 step 4: a review earns the promised coupon, once even if the signal fires twice."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from example_shop.shop.models import Review
from postpurchase import recipes, signals
from postpurchase.coupons import CODE_ALPHABET
from postpurchase.models import Coupon, Enrollment, Message
from postpurchase.testing.factories import ContactFactory
from tests.core.helpers import run_clock
from tests.recipes.helpers import live, sent
from tests.shop.factories import OrderFactory, OrderItemFactory, ProductFactory, ReviewFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _raise_signal_errors(settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "SIGNAL_ERRORS": "raise"}


def review_of(locale="en", *, with_order=True, email="anna@example.com", name="Anna Petrova"):
    # An existing customer (soft opt-in): the thank-you is marketing email.
    ContactFactory(email=email)
    product = ProductFactory(name="Trekker 45 L")
    order = None
    if with_order:
        order = OrderItemFactory(
            product=product, order=OrderFactory(email=email, locale=locale, first_name=name)
        ).order
    return ReviewFactory(product=product, order=order, email=email, name=name, rating=5)


def signal(review: Review) -> None:
    signals.review_submitted.send(sender=Review, review=review)


@pytest.mark.parametrize("with_order", [True, False])
def test_the_same_review_signalled_twice_sends_one_coupon(frozen, with_order):
    flow = live("review-thank-you")
    review = review_of(with_order=with_order)
    signal(review)
    signal(review)
    run_clock(frozen)

    assert Enrollment.objects.filter(flow=flow).count() == 1
    assert Message.objects.filter(status="sent").count() == 1
    coupon = Coupon.objects.get()
    assert re.fullmatch(rf"THANKS-[{CODE_ALPHABET}]{{12}}", coupon.code)
    assert coupon.contact.email == "anna@example.com"
    assert coupon.policy.percent == 15 and coupon.policy.uses_per_code == 1
    assert len(mail.outbox) == 1
    assert coupon.code in mail.outbox[0].body
    assert coupon.code in mail.outbox[0].alternatives[0][0]


def test_the_dedupe_key_is_the_order_or_else_the_review(frozen):
    live("review-thank-you")
    with_order = review_of()
    without = review_of(with_order=False, email="ivan@example.com", name="Ivan")
    signal(with_order)
    signal(without)
    keys = set(Enrollment.objects.values_list("dedupe_key", flat=True))
    assert keys == {f"order:shop.order:{with_order.order.pk}", f"ref:shop.review:{without.pk}"}


def test_two_reviews_without_an_order_earn_two_coupons(frozen):
    live("review-thank-you")
    signal(review_of(with_order=False))
    signal(review_of(with_order=False))
    run_clock(frozen)
    assert Coupon.objects.count() == 2
    assert len({c.code for c in Coupon.objects.all()}) == 2


def test_subjects_in_three_languages(frozen):
    start = frozen.now
    live("review-thank-you")
    signal(review_of("en", email="emily@example.com", name="Emily"))
    signal(review_of("ru", email="anna@example.com", name="Анна"))
    signal(review_of("uk", email="olena@example.com", name="Олена"))
    run_clock(frozen)
    assert sorted((language, subject) for _, language, subject in sent(start)) == [
        ("en", "Emily, thank you for your review: here is your gift"),
        ("ru", "Анна, спасибо за отзыв: подарок внутри"),
        ("uk", "Олена, дякуємо за відгук: подарунок усередині"),
    ]
    assert {offset for offset, _, _ in sent(start)} == {frozen.now - start}
    html = {m.to[0]: m.alternatives[0][0] for m in mail.outbox}
    assert "Ваш подарок за отзыв" in next(h for to, h in html.items() if "anna@" in to)
    assert "Trekker 45 L" in next(h for to, h in html.items() if "olena@" in to)


def test_the_shops_review_form_earns_a_coupon(client, frozen):
    live("review-thank-you")
    product = ProductFactory(name="Trekker 45 L")
    OrderItemFactory(product=product, order=OrderFactory(email="olga@example.com", locale="ru"))
    ContactFactory(email="olga@example.com", locale="ru")  # the order's soft opt-in
    response = client.post(
        product.get_absolute_url(),
        {"name": "Ольга", "email": "olga@example.com", "rating": "5", "text": "Удобный."},
    )
    assert response.status_code == 302
    run_clock(frozen)
    coupon = Coupon.objects.get()
    assert coupon.contact.email == "olga@example.com"
    [email] = mail.outbox
    assert email.subject == "Ольга, спасибо за отзыв: подарок внутри"
    assert coupon.code in email.body


@pytest.mark.parametrize("rating", [1, 3, 5])
def test_the_reward_does_not_depend_on_the_rating(frozen, rating):
    # FTC 16 CFR 465.4 and Google's policy: no reward conditioned on what a review says.
    live("review-thank-you")
    review = review_of()
    review.rating = rating
    review.save()
    signal(review)
    run_clock(frozen)
    coupon = Coupon.objects.get()
    assert coupon.contact.email == "anna@example.com"
    assert Message.objects.get().status == "sent"


def test_the_reward_flow_is_triggered_only_by_reviews_on_the_shops_own_site():
    recipe = recipes.RECIPES["review-thank-you"]
    assert recipe["trigger"] == "review_submitted"
    assert not recipe.get("filter_condition")  # no filter on the rating


def test_no_coupon_while_the_recipe_is_a_draft(client, frozen):
    recipes.install("review-thank-you")
    signal(review_of())
    run_clock(frozen)
    assert not Coupon.objects.exists() and mail.outbox == []
