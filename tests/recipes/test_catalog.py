"""Every shipped recipe: installs as a draft, once, validates, and its emails exist in
en/ru/uk and render with a full snapshot as well as with nothing at all."""

from __future__ import annotations

import re

import pytest

from postpurchase import recipes
from postpurchase.conf import brand, site_url
from postpurchase.email.rendering import render_content
from postpurchase.models import Contact, EmailContent, EmailTemplate, Flow, Step
from postpurchase.recipes.catalog import CATALOG
from postpurchase.testing.factories import order_snapshot

SLUGS = [recipe["slug"] for recipe in CATALOG]
RECIPES = {recipe["slug"]: recipe for recipe in CATALOG}
NEW = [s for s in SLUGS if s != "post-purchase-series"]
TEMPLATES = sorted({t for recipe in CATALOG for t in recipe["templates"]})
LANGUAGES = ["en", "ru", "uk"]


def test_the_catalogue_has_every_recipe_of_issue_3():
    assert set(SLUGS) >= {
        "post-purchase-series",
        "order-processing",
        "order-shipped",
        "order-delivered",
        "review-after-delivery",
        "usage-tips",
        "social-invite",
        "referral-invite",
        "browse-abandonment",
        "cart-abandonment",
    }
    assert len(SLUGS) == len(set(SLUGS))
    assert set(recipes.RECIPES) >= set(SLUGS)


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.django_db
def test_installs_as_a_draft_with_its_steps(slug):
    recipe = recipes.RECIPES[slug]
    flow = recipes.install(slug)
    assert flow.status == Flow.Status.DRAFT
    assert flow.trigger == recipe["trigger"]
    assert flow.reentry == recipe["reentry"]
    assert flow.reentry_days == recipe.get("reentry_days")
    assert flow.exit_events == recipe["exit_events"]
    steps = list(Step.objects.filter(flow=flow).order_by("position"))
    assert [type(s) for s in steps] == [recipes.STEP_TYPES[s["type"]] for s in recipe["steps"]]
    for template in recipe["templates"]:
        languages = set(
            EmailContent.objects.filter(template__slug=template).values_list("language", flat=True)
        )
        assert languages == set(LANGUAGES), template


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.django_db
def test_installing_twice_does_not_duplicate(slug):
    first = recipes.install(slug)
    again = recipes.install(slug)
    assert again.pk == first.pk
    assert Flow.objects.filter(slug=slug).count() == 1
    assert Step.objects.filter(flow=first).count() == len(recipes.RECIPES[slug]["steps"])
    templates = recipes.RECIPES[slug]["templates"]
    assert EmailTemplate.objects.filter(slug__in=templates).count() == len(templates)
    assert EmailContent.objects.filter(template__slug__in=templates).count() == 3 * len(templates)


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.django_db
def test_passes_validation(slug, settings):
    from postpurchase.flows.validation import validate_flow

    # A staff alert (nps-detractor-alert) goes to STAFF_EMAILS, which a shop must set.
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "STAFF_EMAILS": ["care@example.com"]}

    flow = recipes.install(slug)
    flow.full_clean()
    assert [str(p) for p in validate_flow(flow)] == []


@pytest.mark.parametrize(
    "slug", [s for s in NEW if any(st["type"] in ("email", "nps") for st in RECIPES[s]["steps"])]
)
def test_categories_transactional_only_for_order_status(slug):
    steps = recipes.RECIPES[slug]["steps"]
    categories = {s["category"] for s in steps if s["type"] in ("email", "nps")}
    expected = "transactional" if slug.startswith("order-") else "marketing"
    assert categories == {expected}


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_email_ships_in_three_languages(template):
    contents = recipes.load_template_contents(template)
    assert set(contents) == set(LANGUAGES)
    for language, fields in contents.items():
        assert fields["subject"] and fields["preheader"], (template, language)
        assert '{% extends "postpurchase/email/base.mjml" %}' in fields["body"]


@pytest.mark.parametrize("template", TEMPLATES)
def test_item_loops_are_guarded(template):
    """A missing "items" key would make {% for item in order.items %} loop over the
    dict's own .items(): every loop over items sits inside an {% if ....items.0 %}."""
    for language, fields in recipes.load_template_contents(template).items():
        body = fields["body"]
        for match in re.finditer(r"{%\s*for \w+ in ([\w.]+)\.items\s*%}", body):
            guard = "{% if " + match.group(1) + ".items.0 %}"
            assert guard in body[: match.start()], (template, language, match.group(0))


def _context(language, *, order, event, brand_values, category="marketing"):
    return {
        "contact": Contact(email="x@example.com", first_name="", locale=language),
        "order": order,
        "event": event,
        "brand": brand_values,
        "brand_key": repr(sorted(brand_values.items())),
        "site_url": site_url(),
        "recommendations": [],
        "items_to_review": order.get("items", []),
        "language": language,
        "is_marketing": category == "marketing",
        "unsubscribe_url": "https://shop.example.com/unsubscribe/x/" if category else "",
        "message_id": "00000000-0000-0000-0000-000000000000",
    }


def _render(template, language, **kwargs):
    content = EmailContent(template=EmailTemplate(slug=template, name=template), language=language)
    fields = recipes.load_template_contents(template)[language]
    for name, value in fields.items():
        setattr(content, name, value)
    return render_content(content, _context(language, **kwargs))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_renders_with_no_order_event_or_brand_details(template, language):
    bare_brand = {**brand(), "social_links": [], "support_email": "", "support_phone": ""}
    email = _render(template, language, order={}, event={}, brand_values=bare_brand)
    assert email.subject.strip()
    for text in (email.subject, email.preheader, email.text):
        assert "None" not in text and "#  " not in text and "№  " not in text
        assert "{{" not in text and "{%" not in text
    assert "<mj-" not in email.html


FULL_ORDER = order_snapshot(
    number="2077",
    delivery_estimate="2026-11-26",
    placed_at="2026-11-23T10:00:00+00:00",
    tracking_url="https://track.example.com/2077",
    referral_url="https://shop.example.com/?ref=abc123",
    shipping_address="1 Main St.",
)
FULL_ORDER["items"][0]["tips"] = "Dry it open, away from radiators."
FULL_ORDER["items"][0]["tips_url"] = "https://shop.example.com/care/backpacks/"
FULL_EVENT = {
    "name": "Trekker 45 L",
    "url": "https://shop.example.com/p/trekker-45/",
    "image_url": "https://shop.example.com/img/trekker.jpg",
    "price": "8990.00",
    "currency": "RUB",
    "items": [
        {
            "sku": "BP-TRK-45",
            "name": "Trekker 45 L",
            "qty": 2,
            "price": "8990.00",
            "total": "17980.00",
            "url": "https://shop.example.com/p/trekker-45/",
            "image_url": "",
        }
    ],
    "subtotal": "17980.00",
    "cart_url": "https://shop.example.com/cart/",
    "tracking_url": "https://track.example.com/event/2077",
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_renders_with_everything_present(template, language):
    email = _render(template, language, order=FULL_ORDER, event=FULL_EVENT, brand_values=brand())
    assert email.subject.strip() and email.preheader.strip()
    assert "None" not in email.text


@pytest.mark.parametrize("slug", NEW)
def test_recipe_describes_itself(slug):
    recipe = recipes.RECIPES[slug]
    assert recipe["name"] and recipe["description"]
    assert recipe["exit_events"], "every shipped flow has a way out"
