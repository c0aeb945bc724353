"""``{% brandpart %}``: a cached layout part never shows one email what belongs to another."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django import template
from django.template import Context, Engine

from postpurchase import recipes
from postpurchase.conf import brand
from postpurchase.email import rendering
from postpurchase.email.rendering import BUILTINS, get_engine, render_template
from postpurchase.models import Contact, EmailTemplate
from postpurchase.templatetags import postpurchase_email
from postpurchase.testing.factories import order_snapshot

BRAND = {"name": "Acme", "site_url": "https://shop.example.com"}


def render(compiled, **values) -> str:
    values.setdefault("brand", BRAND)
    values.setdefault("brand_key", json.dumps(values["brand"], sort_keys=True))
    return compiled.render(Context(values))


def part(source: str):
    return get_engine().from_string("{% brandpart %}" + source + "{% endbrandpart %}")


# 1. A parent chosen at render time


def layouts_engine() -> Engine:
    """Like the email engine (cached loader, same builtins), plus two middle layouts that
    extend the built-in one and override its cached ``header`` block differently."""
    middle = {
        "vip.mjml": '{% extends "postpurchase/email/base.mjml" %}'
        "{% block header %}<mj-raw>VIP header for gold customers</mj-raw>{% endblock %}",
        "standard.mjml": '{% extends "postpurchase/email/base.mjml" %}'
        "{% block header %}<mj-raw>Standard header</mj-raw>{% endblock %}",
    }
    loaders = [
        (
            "django.template.loaders.cached.Loader",
            [
                ("django.template.loaders.locmem.Loader", middle),
                "django.template.loaders.app_directories.Loader",
            ],
        )
    ]
    return Engine(loaders=loaders, builtins=BUILTINS, autoescape=True)


def test_a_layout_chosen_at_render_time_shows_each_email_its_own_header():
    child = layouts_engine().from_string(
        "{% extends layout %}{% block content %}<mj-raw>Hi {{ name }}</mj-raw>{% endblock %}"
    )
    outputs = [
        render(child, layout=layout, name=name)
        for layout, name in (("vip.mjml", "Gold"), ("standard.mjml", "Basic"), ("vip.mjml", "Gold"))
    ]
    assert "VIP header" in outputs[0] and "Standard header" not in outputs[0]
    assert "Standard header" in outputs[1] and "VIP header" not in outputs[1]
    assert "VIP header" in outputs[2] and "Standard header" not in outputs[2]


# 2. Reading the whole context


def test_debug_inside_a_part_shows_each_email_its_own_context(settings):
    settings.DEBUG = True
    compiled = part("{% debug %}")
    first = render(compiled, contact={"email": "anna@example.com"})
    second = render(compiled, contact={"email": "bob@example.com"})
    assert "anna@example.com" in first
    assert "bob@example.com" in second and "anna@example.com" not in second


class _ContextDumpNode(template.Node):
    """A custom tag that prints every secret in the context, as a dump tag might."""

    def __init__(self, how: str):
        self.how = how

    def render(self, context):
        found = []
        for d in context.dicts:
            values = [v for _, v in d.items()] if self.how == "items" else list(d.values())
            found += [v for v in values if isinstance(v, str) and v.startswith("secret:")]
        return ",".join(found)


@pytest.mark.parametrize("how", ["items", "values"])
def test_a_tag_that_walks_the_whole_context_inside_a_part_is_not_cached(how):
    compiled = part("x")
    for node in compiled.nodelist.get_nodes_by_type(postpurchase_email.BrandPartNode):
        node.nodelist = template.NodeList([_ContextDumpNode(how)])
    assert render(compiled, secret="secret:anna") == "secret:anna"
    assert render(compiled, secret="secret:bob") == "secret:bob"


# 3. Values that are equal but print differently


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (Decimal("1.0"), Decimal("1.00")),
        (-0.0, 0.0),
        (True, 1),
        (1, 1.0),
        (
            datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
            datetime(2026, 11, 23, 13, 0, tzinfo=timezone(timedelta(hours=3))),
        ),
    ],
    ids=["decimal places", "minus zero", "bool and int", "int and float", "time zones"],
)
def test_values_that_are_equal_but_print_differently_each_print_their_own(first, second):
    source = "{{ value }}|{{ value.isoformat }}"
    compiled = part(source)
    expected = [
        get_engine().from_string(source).render(Context({"value": v})) for v in (first, second)
    ]
    assert expected[0] != expected[1]  # the case is real
    assert render(compiled, value=first) == expected[0]
    assert render(compiled, value=second) == expected[1]


def test_equal_but_differently_printed_values_inside_a_dict_each_print_their_own():
    compiled = part("{{ order.total }}")
    assert render(compiled, order={"total": Decimal("5.0")}) == "5.0"
    assert render(compiled, order={"total": Decimal("5.00")}) == "5.00"


def test_equal_but_differently_printed_values_inside_a_list_each_print_their_own():
    compiled = part("{% for line in order.lines %}{{ line }} {% endfor %}")
    assert render(compiled, order={"lines": [0.0]}) == "0.0 "
    assert render(compiled, order={"lines": [-0.0]}) == "-0.0 "


def test_equal_but_differently_printed_dict_keys_each_print_their_own():
    compiled = part("{% for key, value in order.items %}{{ key }}={{ value }} {% endfor %}")
    assert render(compiled, order={1: "x"}) == "1=x "
    assert render(compiled, order={True: "x"}) == "True=x "
    assert render(compiled, order={1.0: "x"}) == "1.0=x "


# 4. Tags that only test whether a name is set


class _IfSetNode(template.Node):
    """``{% ifset vip %}``: prints "VIP" when ``vip`` is in the context, as a custom tag may."""

    def render(self, context):
        return "VIP" if "vip" in context else "regular"


def test_a_tag_that_tests_whether_a_name_is_set_inside_a_part_sees_each_email():
    compiled = part("x")
    for node in compiled.nodelist.get_nodes_by_type(postpurchase_email.BrandPartNode):
        node.nodelist = template.NodeList([_IfSetNode()])
    assert render(compiled, vip=True) == "VIP"
    assert render(compiled) == "regular"
    assert render(compiled, vip="yes") == "VIP"


def test_an_inner_loop_inside_a_part_in_an_outer_loop_sees_each_outer_counter():
    """``{% for %}`` tests ``"forloop" in context`` to find its parent loop."""
    compiled = get_engine().from_string(
        "{% for row in rows %}{% brandpart %}{% for x in row %}"
        "{{ forloop.parentloop.counter }}{% endfor %}{% endbrandpart %};{% endfor %}"
    )
    assert render(compiled, rows=[[0], [0], [0]]) == "1;2;3;"


# Speed: the built-in layout's parts stay cached


@pytest.mark.django_db
def test_the_built_in_layout_parts_render_once_for_a_batch(monkeypatch):
    renders = []

    class CountingReads(postpurchase_email._Reads):
        def __init__(self) -> None:
            super().__init__()
            renders.append(self)

    monkeypatch.setattr(postpurchase_email, "_Reads", CountingReads)
    monkeypatch.setattr(rendering, "_compiled", rendering._CompiledCache())  # a fresh compile
    recipes.install("post-purchase-series")
    thank_you = EmailTemplate.objects.get(slug="thank-you")
    texts = []
    for name in ("Alice", "Bob"):
        b = brand()
        ctx = {
            "contact": Contact(email=f"{name.lower()}@example.com", first_name=name),
            "order": order_snapshot(items=2),
            "brand": b,
            "brand_key": json.dumps(b, sort_keys=True),
            "site_url": "https://shop.example.com",
            "recommendations": [],
            "event": {},
            "is_marketing": False,
            "unsubscribe_url": "",
        }
        ctx["items_to_review"] = ctx["order"]["items"]
        texts.append(render_template(thank_you, "en", ctx).text)
    assert "Alice" in texts[0] and "Bob" in texts[1]
    layout = get_engine().get_template("postpurchase/email/base.mjml")
    parts = layout.nodelist.get_nodes_by_type(postpurchase_email.BrandPartNode)
    assert len(parts) == 3
    assert len(renders) == len(parts)  # each part once, for the first email only
