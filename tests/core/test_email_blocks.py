"""Emails from blocks: every block in every language, what the editor refuses, the admin
pages and the preview endpoint."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from postpurchase.email import blocks as email_blocks
from postpurchase.email.blocks import BLOCK_TYPES, BlockError, BlockType, compile_blocks
from postpurchase.email.previews import SAMPLE_ORDER, preview_content
from postpurchase.email.rendering import render_template
from postpurchase.models import EmailBlock, EmailContent
from postpurchase.testing.factories import EmailTemplateFactory

pytestmark = pytest.mark.django_db

LANGUAGES = ["en", "ru", "uk"]
TEXT = (
    "**Bold** and *italic*, a [link]({{ shop_url }}) and "
    "[another](https://example.com/x?a=1&b=2)\n\n- one {{ order_number }}\n- two"
)
SNAPSHOT = {
    **SAMPLE_ORDER,
    "items": [
        {**SAMPLE_ORDER["items"][0], "image_url": "https://example.com/backpack.jpg"},
        {
            "sku": "SKU-2",
            "name": "Flask",
            "qty": 2,
            "price": "500",
            "total": "1000",
            "image_url": "/media/flask.jpg",
            "url": "/p/2/",
        },
    ],
}


def every_block() -> list[EmailBlock]:
    values = {
        "heading": {"text": "Hello, {{ first_name }}!"},
        "text": {"text": TEXT},
        "button": {"label": "Open your order", "link": "order"},
        "image": {"url": "https://example.com/banner.png", "alt": "Our autumn collection"},
        "spacer": {"size": 16},
        "coupon": {"text": "A gift", "label": "Shop now", "link": "shop"},
        "review_links": {"text": "Rate your items", "label": "Review it"},
    }
    return [
        EmailBlock(position=i, kind=kind, **values.get(kind, {"text": f"About {kind}"}))
        for i, kind in enumerate(BLOCK_TYPES)
        if kind in BUILTIN_KINDS
    ]


BUILTIN_KINDS = list(BLOCK_TYPES)


def hrefs(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]*)"', html)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_block_renders_in_every_language(language):
    template = EmailTemplateFactory(slug="all-blocks", languages=[])
    content = EmailContent(
        template=template,
        language=language,
        editor="blocks",
        subject="{{ first_name }}, order {{ order_number }}",
    )
    rendered = preview_content(content, every_block(), SNAPSHOT)
    html = rendered.html
    assert rendered.subject == "Anna, order 1001"
    for raw in ("{{", "{%", "<mj-", "&#123;"):
        assert raw not in html, raw
    assert 'alt="Our autumn collection"' in html
    assert 'alt="Backpack"' in html and 'alt="Flask"' in html
    for url in hrefs(html):
        assert re.match(r"(https?://|mailto:|tel:)", url), url
    assert "http://testserver/media/flask.jpg" in html or "/media/flask.jpg" in html
    assert "<strong>Bold</strong>" in html and "<em>italic</em>" in html
    assert "<li>one 1001</li>" in html
    assert "https://example.com/x?a=1&amp;b=2" in html
    assert "Hello, Anna!" in html
    assert "Flask" in html and "SAMPLE" in html  # order items, the sample coupon
    assert "score=10" in html  # the NPS scale
    # The shop blocks' own words come in the email's language.
    if language == "ru":
        assert "Итого" in html
    if language == "uk":
        assert "Разом" in html


def test_relative_item_links_become_absolute(settings):
    content = EmailContent(language="en", editor="blocks", subject="Hi")
    html = preview_content(content, [EmailBlock(position=1, kind="order_items")], SNAPSHOT).html
    assert 'href="http://testserver/p/2/"' in html or re.search(r'href="https?://[^"]+/p/2/"', html)


@pytest.mark.parametrize(
    "text",
    [
        "{% load static %}{% if 1 %}x{% endif %}",
        "<mj-raw><script>alert(1)</script></mj-raw>",
        "{# hidden #} } { {{{ first_name }}}",
    ],
)
def test_text_cannot_inject_template_or_mjml(text):
    content = EmailContent(language="en", editor="blocks", subject="Hi")
    html = preview_content(content, [EmailBlock(position=1, kind="text", text=text)]).html
    assert "<script" not in html and "<mj-" not in html
    assert "{%" not in html or "&#123;%" in html or "{% " not in html
    assert "alert(1)" not in html or "&lt;script&gt;" in html


def test_emphasis_never_changes_an_address():
    source = email_blocks.markup("[the *guide*](https://example.com/care_and_use_guide) _now_")
    assert 'href="https://example.com/care_and_use_guide"' in source
    assert "<em>guide</em>" in source and "<em>now</em>" in source


def test_unknown_variable_is_refused_with_its_name():
    with pytest.raises(BlockError) as error:
        compile_blocks([EmailBlock(position=1, kind="heading", text="Hi {{ frist_name }}")])
    assert "frist_name" in str(error.value)
    assert error.value.field == "text"


@pytest.mark.parametrize(
    "block, field",
    [
        (EmailBlock(kind="image", url="/banner.png", alt="x"), "url"),
        (EmailBlock(kind="image", url="https://example.com/b.png", alt=""), "alt"),
        (EmailBlock(kind="button", label="Go", link="custom", url="javascript:alert(1)"), "url"),
        (EmailBlock(kind="button", label="Go", link=""), "link"),
        (EmailBlock(kind="text", text="[x]({{ first_name }})"), "text"),
        (EmailBlock(kind="text", text="[x](/relative)"), "text"),
        (EmailBlock(kind="spacer", size=900), "size"),
        (EmailBlock(kind="review_links", label="Rate {{ first_name }}"), "label"),
    ],
)
def test_blocks_that_cannot_render_are_refused(block, field):
    block.position = 1
    with pytest.raises(BlockError) as error:
        compile_blocks([block])
    assert error.value.field == field


def test_a_shop_adds_its_own_block_type(monkeypatch):
    monkeypatch.setattr(email_blocks, "BLOCK_TYPES", dict(BLOCK_TYPES))
    email_blocks.register_block(
        BlockType(
            "gift_note",
            "Gift note",
            lambda block: f'<mj-text css-class="gift">{email_blocks.plain(block.text)}</mj-text>',
            fields=("text",),
        )
    )
    content = EmailContent(language="en", editor="blocks", subject="Hi")
    html = preview_content(
        content, [EmailBlock(position=1, kind="gift_note", text="For {{ first_name }}")]
    ).html
    assert "For Anna" in html and "gift" in html


# ---------------------------------------------------------------------------------------
# The admin


def block_post(content_fields: dict, blocks: list[dict], initial: int = 0) -> dict:
    data = {
        **content_fields,
        "blocks-TOTAL_FORMS": str(len(blocks)),
        "blocks-INITIAL_FORMS": str(initial),
        "blocks-MIN_NUM_FORMS": "0",
        "blocks-MAX_NUM_FORMS": "1000",
    }
    for i, block in enumerate(blocks):
        for key, value in block.items():
            data[f"blocks-{i}-{key}"] = value
    return data


@pytest.fixture
def template():
    return EmailTemplateFactory(slug="care-tips", name="Care tips", languages=[])


def content_fields(template, **extra) -> dict:
    return {
        "template": template.pk,
        "language": "ru",
        "editor": "blocks",
        "subject": "{{ first_name }}, советы по уходу",
        "preheader": "",
        "body": "",
        **extra,
    }


CARE_BLOCKS = [
    {"position": "1", "kind": "heading", "text": "Здравствуйте, {{ first_name }}!"},
    {"position": "2", "kind": "text", "text": "Несколько **советов** по уходу."},
    {"position": "3", "kind": "order_items", "text": ""},
    {"position": "4", "kind": "button", "label": "В магазин", "link": "shop"},
]


def test_admin_builds_an_email_from_blocks(admin_client, template):
    url = reverse("admin:postpurchase_emailcontent_add")
    assert admin_client.get(url + f"?template={template.pk}&language=ru").status_code == 200
    response = admin_client.post(url, block_post(content_fields(template), CARE_BLOCKS))
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    content = EmailContent.objects.get(template=template, language="ru")
    assert content.editor == "blocks"
    assert [b.kind for b in content.blocks.all()] == ["heading", "text", "order_items", "button"]
    assert "{% extends" in content.body
    rendered = render_template(template, "ru", {**_context(), "order": SNAPSHOT})
    assert rendered.subject == "Anna, советы по уходу"
    assert "Здравствуйте, Anna!" in rendered.html and "Backpack" in rendered.html

    # The change page shows the editor, the variables menu and the preview.
    page = admin_client.get(reverse("admin:postpurchase_emailcontent_change", args=[content.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'id="pp-preview-frame"' in body and 'data-name="first_name"' in body
    assert "postpurchase/blocks.js" in body

    # Change: reorder and edit; the body follows.
    ids = [b.pk for b in content.blocks.all()]
    changed = [
        dict(b, id=str(pk), content=str(content.pk)) for b, pk in zip(CARE_BLOCKS, ids, strict=True)
    ]
    changed[0]["position"], changed[1]["position"] = "2", "1"
    changed[1]["text"] = "Первым делом"
    response = admin_client.post(
        reverse("admin:postpurchase_emailcontent_change", args=[content.pk]),
        block_post(content_fields(template), changed, initial=4),
    )
    assert response.status_code == 302
    content.refresh_from_db()
    assert [b.kind for b in content.blocks.all()][:2] == ["text", "heading"]
    assert content.body.index("Первым делом") < content.body.index("Здравствуйте")


def _context() -> dict:
    from postpurchase.email.previews import sample_context

    return sample_context(SNAPSHOT, "marketing")


def test_admin_new_block_without_position_goes_last(admin_client, template):
    url = reverse("admin:postpurchase_emailcontent_add")
    blocks = [dict(b) for b in CARE_BLOCKS]
    blocks[3]["position"] = ""
    admin_client.post(url, block_post(content_fields(template), blocks))
    content = EmailContent.objects.get(template=template)
    assert content.blocks.get(kind="button").position == 4


@pytest.mark.parametrize(
    "fields, blocks, field, words",
    [
        (
            {},
            [{"position": "1", "kind": "heading", "text": "Hi {{ frist_name }}"}],
            "blocks-0-text",
            "frist_name",
        ),
        ({"subject": "Hi {{ order_numbr }}"}, [], "subject", "order_numbr"),
        (
            {},
            [{"position": "1", "kind": "image", "url": "banner.png", "alt": "x"}],
            "blocks-0-url",
            "https://",
        ),
    ],
)
def test_admin_refuses_what_cannot_render(admin_client, template, fields, blocks, field, words):
    url = reverse("admin:postpurchase_emailcontent_add")
    response = admin_client.post(url, block_post(content_fields(template, **fields), blocks))
    assert response.status_code == 200
    assert not EmailContent.objects.filter(template=template).exists()
    form_errors = {}
    adminform = response.context["adminform"].form
    form_errors.update({k: " ".join(v) for k, v in adminform.errors.items()})
    for formset in response.context["inline_admin_formsets"]:
        for i, errors in enumerate(formset.formset.errors):
            form_errors.update({f"blocks-{i}-{k}": " ".join(v) for k, v in errors.items()})
    assert words in form_errors.get(field, ""), form_errors


def test_admin_refuses_mjml_that_cannot_render(admin_client, template):
    url = reverse("admin:postpurchase_emailcontent_add")
    response = admin_client.post(
        url,
        block_post(
            content_fields(template, editor="mjml", subject="Hi", body="Just some prose"), []
        ),
    )
    assert response.status_code == 200
    assert "cannot be shown to customers" in response.content.decode()
    assert not EmailContent.objects.filter(template=template).exists()


def test_template_page_links_to_the_editor(admin_client, template):
    content = EmailContent.objects.create(
        template=template, language="en", editor="blocks", subject="Hi", body=compile_blocks([])
    )
    page = admin_client.get(reverse("admin:postpurchase_emailtemplate_change", args=[template.pk]))
    assert (
        reverse("admin:postpurchase_emailcontent_change", args=[content.pk])
        in page.content.decode()
    )


# ---------------------------------------------------------------------------------------
# The preview endpoint


def preview(client, template, blocks=CARE_BLOCKS, **extra):
    return client.post(
        reverse("admin:postpurchase_emailcontent_preview"),
        block_post(content_fields(template, **extra), blocks),
    )


def test_preview_renders_unsaved_blocks(admin_client, template):
    response = preview(admin_client, template)
    assert response.status_code == 200
    data = response.json()
    assert data["subject"] == "Anna, советы по уходу"
    assert "Здравствуйте, Anna!" in data["html"]
    assert not EmailContent.objects.exists()


def test_preview_reports_what_would_be_refused(admin_client, template):
    data = preview(
        admin_client, template, [{"position": "1", "kind": "text", "text": "{{ nope }}"}]
    ).json()
    assert "nope" in data["error"] and "html" not in data


def test_preview_with_a_real_order(admin_client, template):
    from postpurchase.testing.factories import EventFactory

    event = EventFactory(snapshot={**SNAPSHOT, "first_name": "Boris", "number": "77"})
    response = admin_client.post(
        reverse("admin:postpurchase_emailcontent_preview"),
        {**block_post(content_fields(template), CARE_BLOCKS), "pp_order": str(event.pk)},
    )
    assert "Здравствуйте, Boris!" in response.json()["html"]


def test_preview_is_for_staff_with_permission_only(client, django_user_model, template):
    url = reverse("admin:postpurchase_emailcontent_preview")
    response = preview(client, template)
    assert response.status_code == 302 and "/login/" in response["Location"]

    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(clerk)
    assert preview(client, template).status_code == 403

    clerk.user_permissions.add(Permission.objects.get(codename="add_emailcontent"))
    assert preview(client, template).status_code == 200
    assert client.get(url).status_code == 405


def test_a_real_order_in_the_preview_needs_the_permission_to_view_events(
    client, django_user_model, template
):
    """An order's snapshot is a customer's name, address and purchases: an editor who
    may not view events neither sees the orders offered nor gets one by its id."""
    from postpurchase.testing.factories import EventFactory

    event = EventFactory(snapshot={**SNAPSHOT, "first_name": "Boris", "number": "77"})
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    for codename in ("add_emailcontent", "add_emailblock"):
        clerk.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(clerk)
    page = client.get(reverse("admin:postpurchase_emailcontent_add") + f"?template={template.pk}")
    assert page.status_code == 200 and "Order #77" not in page.content.decode()
    post = {**block_post(content_fields(template), CARE_BLOCKS), "pp_order": str(event.pk)}
    response = client.post(reverse("admin:postpurchase_emailcontent_preview"), post)
    assert response.status_code == 403

    clerk.user_permissions.add(Permission.objects.get(codename="view_event"))
    clerk = django_user_model.objects.get(pk=clerk.pk)  # no cached permissions
    client.force_login(clerk)
    page = client.get(reverse("admin:postpurchase_emailcontent_add") + f"?template={template.pk}")
    assert f'<option value="{event.pk}">Order #77</option>' in page.content.decode()
    response = client.post(reverse("admin:postpurchase_emailcontent_preview"), post)
    assert "Здравствуйте, Boris!" in response.json()["html"]


def test_preview_needs_the_csrf_token(admin_user, template):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert preview(client, template).status_code == 403


# ---------------------------------------------------------------------------------------
# Recipes as blocks


@pytest.mark.parametrize("slug", ["usage-tips", "review-request"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_recipe_email_opens_as_blocks(slug, language):
    from postpurchase import recipes

    template = recipes.install_template(slug, slug)
    content = template.contents.get(language=language)
    assert content.editor == "mjml"
    recipes.open_as_blocks(content)
    content.refresh_from_db()
    assert content.editor == "blocks" and content.blocks.count() == 4
    snapshot = {
        **SNAPSHOT,
        "items": [{**SNAPSHOT["items"][0], "tips": "Wipe with a damp cloth."}],
    }
    rendered = render_template(template, language, {**_context(), "order": snapshot})
    assert "Anna" in rendered.subject
    assert "1001" in rendered.html
    assert ("Wipe with a damp cloth." in rendered.html) == (slug == "usage-tips")
    for raw in ("{{", "{%", "<mj-"):
        assert raw not in rendered.html


def test_admin_opens_a_recipe_email_as_blocks(admin_client):
    from postpurchase import recipes

    content = recipes.install_template("usage-tips", "Tips").contents.get(language="ru")
    page = admin_client.get(reverse("admin:postpurchase_emailcontent_change", args=[content.pk]))
    url = reverse("admin:postpurchase_emailcontent_open_as_blocks", args=[content.pk])
    assert url in page.content.decode()
    assert admin_client.get(url).status_code == 405
    assert admin_client.post(url).status_code == 302
    content.refresh_from_db()
    assert content.editor == "blocks"
    assert "несколько советов" in content.subject


def test_template_page_adds_a_language_as_blocks(admin_client, template):
    url = reverse("admin:postpurchase_emailtemplate_change", args=[template.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    data = {
        "name": template.name,
        "slug": template.slug,
        "contents-TOTAL_FORMS": "1",
        "contents-INITIAL_FORMS": "0",
        "contents-MIN_NUM_FORMS": "0",
        "contents-MAX_NUM_FORMS": "1000",
        "contents-0-language": "uk",
        "contents-0-editor": "blocks",
        "contents-0-subject": 'Вітаємо, {{ first_name|default:"друже" }}',
        "contents-0-preheader": "",
        "contents-0-body": "",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302
    content = template.contents.get(language="uk")
    assert content.editor == "blocks" and "{% extends" in content.body
    rendered = render_template(template, "uk", _context())
    assert rendered.subject == "Вітаємо, Anna"


def test_admin_copies_an_email_to_another_language(admin_client, template):
    admin_client.post(
        reverse("admin:postpurchase_emailcontent_add"),
        block_post(content_fields(template), CARE_BLOCKS),
    )
    russian = EmailContent.objects.get(template=template, language="ru")
    url = reverse("admin:postpurchase_emailcontent_copy", args=[russian.pk])
    page = admin_client.get(reverse("admin:postpurchase_emailcontent_change", args=[russian.pk]))
    assert url in page.content.decode()
    response = admin_client.post(url, {"language": "uk"})
    ukrainian = EmailContent.objects.get(template=template, language="uk")
    assert response["Location"].endswith(f"/{ukrainian.pk}/change/")
    assert [b.kind for b in ukrainian.blocks.all()] == [b.kind for b in russian.blocks.all()]
    assert ukrainian.subject == russian.subject and ukrainian.body == russian.body
    # A language the email has already is not copied over.
    admin_client.post(url, {"language": "uk"})
    assert template.contents.filter(language="uk").count() == 1


def test_copying_needs_the_add_permission(client, django_user_model, template):
    content = EmailContent.objects.create(
        template=template, language="en", editor="blocks", subject="Hi", body=compile_blocks([])
    )
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="change_emailcontent"))
    client.force_login(clerk)
    url = reverse("admin:postpurchase_emailcontent_copy", args=[content.pk])
    assert client.post(url, {"language": "ru"}).status_code == 403
    assert not template.contents.filter(language="ru").exists()
