"""Ready-made flows ("recipes") and installing them.

A recipe is a dict (see ``post_purchase.py``; ``catalog.py`` lists the shipped ones):
the flow's fields, its steps, and the email templates it uses, whose content ships as
files
``recipes/emails/<template-slug>/<language>.mjml``::

    subject: Thank you for your order, {{ contact.first_name }}!
    preheader: Order {{ order.number }} is confirmed

    {% extends "postpurchase/email/base.mjml" %}
    ...

Some templates also ship a block version, ``recipes/emails/<template-slug>/blocks.json``
(``{language: {subject, preheader, blocks: [{kind, text, label, ...}]}}``): an installed
email in MJML can then be opened as blocks (:func:`open_as_blocks`, the button on the
email's page in the admin) and edited by a marketer without code.

Installing is idempotent: a flow or template with the recipe's slug is left as it is
(staff may have edited, paused or launched it), so installing twice never duplicates
anything and never changes a flow's status. Going live goes through
:func:`postpurchase.flows.validation.launch`, the check the admin's "Go live" runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from postpurchase.email.blocks import BLOCK_FIELDS, compile_blocks
from postpurchase.email.previews import preview_content
from postpurchase.exceptions import FlowDefinitionError, FlowNotLaunchedError
from postpurchase.flows.validation import launch
from postpurchase.models import (
    ConditionStep,
    CouponPolicy,
    DelayStep,
    EmailBlock,
    EmailContent,
    EmailStep,
    EmailTemplate,
    Flow,
    NotifyStaffStep,
    NPSStep,
    SignalStep,
    Step,
)
from postpurchase.recipes.catalog import CATALOG

EMAILS_DIR = Path(__file__).parent / "emails"

RECIPES: dict[str, dict[str, Any]] = {recipe["slug"]: recipe for recipe in CATALOG}

#: Step "type" names a recipe may use -> Step model. ``register_step_type`` adds more.
STEP_TYPES: dict[str, type[Step]] = {
    "email": EmailStep,
    "delay": DelayStep,
    "condition": ConditionStep,
    "notify_staff": NotifyStaffStep,
    "signal": SignalStep,
    "nps": NPSStep,
}


#: Trigger filter fields a recipe may set (e.g. only detractors' nps_submitted).
FILTER_FIELDS = ("filter_condition", "filter_field", "filter_operator", "filter_value")


def register_recipe(recipe: dict[str, Any]) -> None:
    """Make a recipe installable (by the command, the admin and ``install()``)."""
    RECIPES[recipe["slug"]] = recipe


def register_step_type(name: str, model: type[Step]) -> None:
    STEP_TYPES[name] = model


def available() -> list[dict[str, Any]]:
    return list(RECIPES.values())


def parse_content_file(text: str, where: str = "") -> dict[str, str]:
    """Split a content file into subject, preheader and body."""
    head, sep, body = text.partition("\n\n")
    if not sep:
        raise FlowDefinitionError(f"{where}: expected header lines, a blank line, then the body")
    fields = {}
    for line in head.splitlines():
        key, colon, value = line.partition(":")
        if not colon or key.strip() not in ("subject", "preheader"):
            raise FlowDefinitionError(f"{where}: unexpected header line {line!r}")
        fields[key.strip()] = value.strip()
    if not fields.get("subject"):
        raise FlowDefinitionError(f"{where}: the subject line is missing")
    return {"subject": fields["subject"], "preheader": fields.get("preheader", ""), "body": body}


def load_template_contents(slug: str) -> dict[str, dict[str, str]]:
    """{language: {subject, preheader, body}} from the shipped files of a template."""
    folder = EMAILS_DIR / slug
    files = sorted(folder.glob("*.mjml"))
    if not files:
        raise FlowDefinitionError(f"No content files for email template {slug!r} in {folder}")
    return {f.stem: parse_content_file(f.read_text(encoding="utf-8"), str(f)) for f in files}


def install_template(slug: str, name: str) -> EmailTemplate:
    template, created = EmailTemplate.objects.get_or_create(slug=slug, defaults={"name": name})
    existing = set(template.contents.values_list("language", flat=True))
    for language, fields in load_template_contents(slug).items():
        if language not in existing:
            content = EmailContent(template=template, language=language, **fields)
            try:
                content.full_clean()
            except ValidationError as exc:
                raise FlowDefinitionError(f"Email {slug!r} [{language}]: {exc}") from exc
            content.save()
    return template


def block_version(slug: str, language: str) -> dict[str, Any] | None:
    """The shipped block version of template ``slug`` in ``language``, if there is one."""
    path = EMAILS_DIR / slug / "blocks.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get(language)


@transaction.atomic
def open_as_blocks(content: EmailContent) -> EmailContent:
    """Replace a recipe email's MJML content with its shipped block version (same
    language): subject, preheader and blocks, checked by rendering before it is saved.
    FlowDefinitionError if the template ships none for this language."""
    version = block_version(content.template.slug, content.language)
    if version is None:
        raise FlowDefinitionError(
            f"Email {content.template.slug!r} [{content.language}] has no block version."
        )
    blocks = [
        EmailBlock(**{"position": i, **{f: spec[f] for f in BLOCK_FIELDS[1:] if f in spec}})
        for i, spec in enumerate(version["blocks"], start=1)
    ]
    content.editor = EmailContent.BLOCKS
    content.subject = version["subject"]
    content.preheader = version.get("preheader", "")
    preview_content(content, blocks)  # raises before anything is changed
    content.body = compile_blocks(blocks)
    content.save()
    content.blocks.all().delete()
    for block in blocks:
        block.content = content
    EmailBlock.objects.bulk_create(blocks)
    return content


def is_installed(slug: str) -> bool:
    """Is there a flow with this recipe's slug already (whatever its status)?"""
    return Flow.objects.filter(slug=slug).exists()


def install(slug: str, *, live: bool = False) -> Flow:
    """Install recipe ``slug`` as a draft flow; idempotent.

    With ``live`` a newly installed flow is launched the way the admin's "Go live" does
    it: validated first. If it does not validate it stays a draft and
    FlowNotLaunchedError lists the problems. A flow that already existed is returned as
    it is, whatever ``live`` says: staff may have paused or be editing it.
    """
    flow, created = _install(slug)
    if live and created:
        problems = launch(flow)
        if problems:
            raise FlowNotLaunchedError(flow, [str(p) for p in problems])
    return flow


@transaction.atomic
def _install(slug: str) -> tuple[Flow, bool]:
    try:
        recipe = RECIPES[slug]
    except KeyError:
        known = ", ".join(sorted(RECIPES))
        raise FlowDefinitionError(f"Unknown recipe {slug!r}; available: {known}") from None
    templates = {
        t_slug: install_template(t_slug, t_name) for t_slug, t_name in recipe["templates"].items()
    }
    flow, created = Flow.objects.get_or_create(
        slug=recipe["slug"],
        defaults={
            "name": recipe["name"],
            "description": recipe.get("description", ""),
            "trigger": recipe["trigger"],
            "trigger_days": recipe.get("trigger_days"),
            "reentry": recipe.get("reentry", Flow.Reentry.ONCE_PER_ORDER),
            "reentry_days": recipe.get("reentry_days"),
            "exit_events": list(recipe.get("exit_events", [])),
            **{f: recipe[f] for f in FILTER_FIELDS if f in recipe},
        },
    )
    if created:
        create_steps(flow, recipe["steps"], templates, where=f"Recipe {slug!r}")
    return flow, created


def install_coupon_policy(spec: dict[str, Any]):
    """The coupon policy a recipe's email step names (``"coupon_policy": {"name": ...,
    "kind": ..., ...}``): found by name, created (and validated) the first time."""
    fields = dict(spec)
    name = fields.pop("name")
    policy = CouponPolicy.objects.filter(name=name).first()
    if policy is None:
        policy = CouponPolicy(name=name, **fields)
        policy.full_clean()
        policy.save()
    return policy


def create_steps(
    flow: Flow, specs: list[dict[str, Any]], templates: dict[str, EmailTemplate], where: str
) -> list[Step]:
    """Create a flow's steps from recipe specs.

    Each spec has a ``type`` (a key of STEP_TYPES), an optional ``key`` naming the step
    within the recipe, and model fields. ``"template": "<slug>"`` picks an email
    template; a value ``{"step": "<key>"}`` points at another step of the recipe (a
    condition's jump target) and is filled in once every step exists.
    """
    created: list[Step] = []
    by_key: dict[str, Step] = {}
    references: list[tuple[Step, str, str]] = []
    for position, raw in enumerate(specs, start=1):
        spec = dict(raw)
        kind = spec.pop("type", None)
        model = STEP_TYPES.get(kind)
        if model is None:
            known = ", ".join(sorted(STEP_TYPES))
            raise FlowDefinitionError(f"{where}: unknown step type {kind!r} (known: {known})")
        key = spec.pop("key", None)
        if "template" in spec:
            try:
                spec["template"] = templates[spec["template"]]
            except KeyError:
                raise FlowDefinitionError(
                    f"{where}: step {position} uses template {spec['template']!r}, "
                    "which the recipe does not list"
                ) from None
        if isinstance(spec.get("coupon_policy"), dict):
            spec["coupon_policy"] = install_coupon_policy(spec["coupon_policy"])
        pending = {k: v["step"] for k, v in spec.items() if isinstance(v, dict) and "step" in v}
        for field in pending:
            spec.pop(field)
        step = model.objects.create(flow=flow, position=position, **spec)
        created.append(step)
        if key:
            by_key[key] = step
        references.extend((step, field, target) for field, target in pending.items())
    for step, field, target in references:
        if target not in by_key:
            raise FlowDefinitionError(f"{where}: no step has the key {target!r}")
        setattr(step, field, by_key[target])
        step.save(update_fields=[field])
    return created
