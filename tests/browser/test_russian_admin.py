"""With a Russian browser the app's admin pages read Russian: none of our English
labels, help texts, choices or messages shows through (issue 11). Django's own strings
are Django's; ours are the ones in our .po file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import polib
import pytest

from postpurchase import recipes
from postpurchase.models import EmailTemplate, Flow, Step

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PO = Path(__file__).parents[2] / "postpurchase" / "locale" / "ru" / "LC_MESSAGES" / "django.po"


def our_english_labels() -> set[str]:
    """Our msgids long enough not to be a word of content (two words or more), whose
    Russian differs, without their %(placeholders)s."""
    labels = set()
    for entry in polib.pofile(str(PO)):
        if not entry.msgstr or entry.msgstr == entry.msgid or "%" in entry.msgid:
            continue
        text = entry.msgid.strip()
        if len(text.split()) >= 2 and not re.search(r"[{}<>]", text):
            labels.add(text)
    return labels


@pytest.fixture
def shop():
    from example_shop.shop.demo_data import load_demo_data
    from example_shop.shop.demo_history import load_email_history

    load_demo_data()
    flow = recipes.install("post-purchase-series", live=True)
    load_email_history(flow.slug)
    return flow


def test_the_flow_pages_show_no_english_label_of_ours(admin_page, shop):
    page = admin_page
    base = page.base_url
    page.context.add_cookies([{"name": "django_language", "value": "ru", "url": base}])
    # Names staff gave (here: the recipe installed in English) are content, not labels.
    content = " ".join(
        [*Flow.objects.values_list("name", flat=True)]
        + [*Step.objects.values_list("name", flat=True)]
        + [*EmailTemplate.objects.values_list("name", flat=True)]
    )
    labels = {label for label in our_english_labels() if label not in content}
    assert len(labels) > 300  # the check has something to look for
    pages = {
        "flow": f"/admin/postpurchase/flow/{shop.pk}/change/",
        "flows": "/admin/postpurchase/flow/",
        "analytics": f"/admin/postpurchase/flow/{shop.pk}/analytics/",
        "recipes": "/admin/postpurchase/flow/recipes/",
        "messages": "/admin/postpurchase/message/",
        "contacts": "/admin/postpurchase/contact/",
        "index": "/admin/",
    }
    for name, url in pages.items():
        page.goto(base + url)
        assert page.locator("html").get_attribute("lang") == "ru", name
        text = page.inner_text("body")
        shown = sorted(label for label in labels if label in text)
        assert shown == [], (name, shown)
        folder = os.environ.get("POSTPURCHASE_DOCS_SCREENSHOTS")
        if name == "flow" and folder:  # the top of the page: fields, trigger, diagram
            page.screenshot(path=os.path.join(folder, "flow-page-ru.png"))
