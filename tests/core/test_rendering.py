"""Rendering: languages, branding, cached layout parts, the built-in templates."""

from __future__ import annotations

import pytest

from postpurchase import recipes
from postpurchase.models import Contact, EmailTemplate
from postpurchase.rendering import pick_language, render_template
from postpurchase.testing.factories import order_snapshot

pytestmark = pytest.mark.django_db


def context(**overrides):
    import json

    from postpurchase.conf import brand

    b = {**brand(), **overrides.pop("brand", {})}
    ctx = {
        "contact": Contact(email="anna@example.com", first_name="Anna"),
        "order": order_snapshot(items=3),
        "brand": b,
        "brand_key": json.dumps(b, sort_keys=True),
        "site_url": "https://shop.example.com",
        "recommendations": [],
        "event": {},
        "is_marketing": True,
        "unsubscribe_url": "https://shop.example.com/u/x/",
    }
    ctx.update(overrides)
    ctx.setdefault("items_to_review", ctx["order"].get("items", []))
    return ctx


@pytest.fixture
def templates():
    recipes.install("post-purchase-series")
    return {t.slug: t for t in EmailTemplate.objects.all()}


def test_pick_language():
    assert pick_language("ru-RU", ["en", "ru"]) == "ru"
    assert pick_language("uk_UA", ["en", "uk"]) == "uk"
    assert pick_language("de", ["ru", "en"]) == "en"
    assert pick_language("", ["uk"]) == "uk"


@pytest.mark.parametrize("slug", ["thank-you", "come-back", "review-request"])
@pytest.mark.parametrize("language", ["en", "ru", "uk"])
def test_built_in_emails_render_in_every_language(templates, slug, language):
    recommended = [
        {
            "name": "Rain cover",
            "url": "https://shop.example.com/p/9/",
            "price": "790",
            "currency": "RUB",
        }
    ]
    rendered = render_template(templates[slug], language, context(recommendations=recommended))
    assert rendered.language == language
    assert rendered.subject and "\n" not in rendered.subject
    assert "Anna" in rendered.subject
    assert "<html" in rendered.html and "{%" not in rendered.html and "{{" not in rendered.html
    shown = "Rain cover" if slug == "come-back" else "Product 1"
    assert shown in rendered.text
    assert "None" not in rendered.text


def test_brand_changes_are_not_hidden_by_the_layout_cache(templates):
    first = render_template(templates["thank-you"], "en", context(brand={"name": "Shop One"}))
    second = render_template(templates["thank-you"], "en", context(brand={"name": "Shop Two"}))
    assert "Shop One" in first.html and "Shop One" not in second.html
    assert "Shop Two" in second.html


def test_layout_parts_follow_the_language(templates):
    en = render_template(templates["thank-you"], "en", context())
    ru = render_template(templates["thank-you"], "ru", context())
    assert "Questions about your order?" in en.text
    assert "Questions about your order?" not in ru.text


def test_each_email_keeps_its_own_layout_blocks(templates):
    """come-back empties the shop_link block; the cached parts must not leak between."""
    thank_you = render_template(templates["thank-you"], "en", context())
    come_back = render_template(templates["come-back"], "en", context())
    again = render_template(templates["thank-you"], "en", context())
    assert thank_you.html == again.html
    shop_link = "New arrivals and bestsellers are waiting for you in our shop."
    assert shop_link in thank_you.text
    assert shop_link not in come_back.text


def test_unsubscribe_link_only_in_marketing_mail(templates):
    marketing = render_template(templates["come-back"], "en", context())
    service = render_template(
        templates["thank-you"], "en", context(is_marketing=False, unsubscribe_url="")
    )
    assert "https://shop.example.com/u/x/" in marketing.html
    assert "/u/x/" not in service.html


def test_snapshot_without_items_renders(templates):
    order = {"number": "7", "email": "a@example.com", "items": []}
    rendered = render_template(templates["thank-you"], "ru", context(order=order))
    assert "7" in rendered.html
