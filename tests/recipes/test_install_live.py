"""Installing a recipe live goes through the same check as the admin's "Go live", and
installing again never undoes what staff did to the flow."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from postpurchase import recipes
from postpurchase.exceptions import FlowDefinitionError
from postpurchase.flows.validation import pause
from postpurchase.models import EmailContent, Flow

pytestmark = pytest.mark.django_db

SLUG = "order-shipped"


def command(*args: str) -> str:
    out = StringIO()
    call_command("postpurchase_recipes", *args, stdout=out)
    return out.getvalue()


def test_installing_again_live_leaves_a_paused_flow_paused():
    flow = recipes.install(SLUG, live=True)
    assert flow.status == Flow.Status.LIVE
    pause(flow)
    again = recipes.install(SLUG, live=True)
    assert again.pk == flow.pk
    assert Flow.objects.get(pk=flow.pk).status == Flow.Status.PAUSED


def test_the_command_run_again_with_live_leaves_a_paused_flow_paused():
    command("install", SLUG, "--live")
    flow = Flow.objects.get(slug=SLUG)
    pause(flow)
    out = command("install", SLUG, "--live")
    assert Flow.objects.get(pk=flow.pk).status == Flow.Status.PAUSED
    assert "already installed" in out
    assert "paused" in out


def test_installing_again_leaves_a_draft_staff_are_editing_a_draft():
    recipes.install(SLUG)
    flow = recipes.install(SLUG, live=True)
    assert Flow.objects.get(pk=flow.pk).status == Flow.Status.DRAFT


def test_installing_live_validates_the_flow_and_keeps_it_a_draft_if_it_fails(settings):
    # nps-detractor-alert alerts STAFF_EMAILS: without them the flow cannot go live.
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "STAFF_EMAILS": []}
    with pytest.raises(FlowDefinitionError) as caught:
        recipes.install("nps-detractor-alert", live=True)
    assert "cannot go live" in str(caught.value)
    assert Flow.objects.get(slug="nps-detractor-alert").status == Flow.Status.DRAFT


def test_installing_live_refuses_a_recipe_whose_email_does_not_render():
    # The template exists already (staff broke it); the recipe's flow is new.
    recipes.install_template("order-shipped", "Order shipped")
    EmailContent.objects.filter(template__slug="order-shipped").update(body="{% if %}")
    with pytest.raises(FlowDefinitionError, match="cannot go live"):
        recipes.install(SLUG, live=True)
    assert Flow.objects.get(slug=SLUG).status == Flow.Status.DRAFT


def test_the_command_reports_why_a_flow_cannot_go_live():
    recipes.install_template("order-shipped", "Order shipped")
    EmailContent.objects.filter(template__slug="order-shipped").update(body="{% if %}")
    with pytest.raises(CommandError, match="cannot go live"):
        command("install", SLUG, "--live")
    assert Flow.objects.get(slug=SLUG).status == Flow.Status.DRAFT
