"""Going live: a flow is checked first, and refused with the step and line at fault."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from postpurchase.flows.operations import duplicate_flow
from postpurchase.flows.validation import launch, pause, validate_flow
from postpurchase.models import Flow, Step
from postpurchase.testing.factories import (
    DelayStepFactory,
    EmailContentFactory,
    EmailStepFactory,
    EmailTemplateFactory,
    FlowFactory,
)

pytestmark = pytest.mark.django_db


def draft(**kwargs):
    return FlowFactory(status=Flow.Status.DRAFT, **kwargs)


def test_the_default_flow_is_valid(default_flow):
    assert validate_flow(default_flow) == []


def test_empty_flow_is_refused():
    flow = draft()
    assert [str(p) for p in launch(flow)] == ["The flow has no steps."]
    flow.refresh_from_db()
    assert flow.status == Flow.Status.DRAFT


def test_broken_template_names_step_and_line():
    flow = draft()
    template = EmailTemplateFactory(languages=[])
    EmailContentFactory(template=template, language="en")
    EmailContentFactory(
        template=template, language="ru", body="<mjml><mj-body>\n\n{% for x in %}</mj-body></mjml>"
    )
    EmailStepFactory(flow=flow, template=template, name="Thanks", position=1)
    problems = launch(flow)
    assert len(problems) == 1
    message = str(problems[0])
    assert message.startswith("Step 1 (Thanks): Template error in body of")
    assert "[ru]" in message and "line 3" in message
    flow.refresh_from_db()
    assert flow.status == Flow.Status.DRAFT


def test_template_without_content_is_refused():
    flow = draft()
    EmailStepFactory(flow=flow, template=EmailTemplateFactory(languages=[]))
    assert "has no content" in str(validate_flow(flow)[0])


def test_zero_delay_is_refused():
    flow = draft()
    EmailStepFactory(flow=flow, position=1)
    DelayStepFactory(flow=flow, position=2, days=0)
    assert any("at least one minute" in str(p) for p in validate_flow(flow))


def test_fixing_lets_it_go_live_and_pause_resume():
    flow = draft()
    EmailStepFactory(flow=flow)
    assert launch(flow) == []
    flow.refresh_from_db()
    assert flow.status == Flow.Status.LIVE
    pause(flow)
    flow.refresh_from_db()
    assert flow.status == Flow.Status.PAUSED
    assert launch(flow) == []
    flow.refresh_from_db()
    assert flow.status == Flow.Status.LIVE


def test_duplicate_copies_steps_as_a_draft(default_flow):
    copy = duplicate_flow(default_flow)
    assert copy.status == Flow.Status.DRAFT
    assert copy.slug == "post-purchase-series-copy"
    originals = [(type(s), s.position, s.name) for s in default_flow.steps.all()]
    copies = [(type(s), s.position, s.name) for s in copy.steps.all()]
    assert copies == originals
    assert not set(copy.steps.values_list("pk", flat=True)) & set(
        default_flow.steps.values_list("pk", flat=True)
    )
    assert duplicate_flow(default_flow).slug == "post-purchase-series-copy-2"
    assert validate_flow(copy) == []


def test_admin_go_live_action_refuses_with_message(admin_client):
    flow = draft()
    template = EmailTemplateFactory(languages=[])
    EmailContentFactory(template=template, body="{% if %}")
    EmailStepFactory(flow=flow, template=template, name="Broken")
    response = admin_client.post(
        reverse("admin:postpurchase_flow_changelist"),
        {"action": "go_live", "_selected_action": [flow.pk]},
        follow=True,
    )
    body = response.content.decode()
    assert "cannot go live" in body and "Broken" in body
    flow.refresh_from_db()
    assert flow.status == Flow.Status.DRAFT


def test_admin_recipe_button_installs_a_draft(admin_client):
    page = admin_client.get(reverse("admin:postpurchase_flow_recipes"))
    assert page.status_code == 200
    assert b"post-purchase-series" in page.content
    response = admin_client.post(
        reverse("admin:postpurchase_flow_recipes"), {"recipe": "post-purchase-series"}
    )
    flow = Flow.objects.get(slug="post-purchase-series")
    assert response.status_code == 302
    assert flow.status == Flow.Status.DRAFT
    admin_client.post(
        reverse("admin:postpurchase_flow_recipes"), {"recipe": "post-purchase-series"}
    )
    assert Flow.objects.filter(slug="post-purchase-series").count() == 1
    assert Step.objects.filter(flow=flow).count() == 5


def test_admin_unknown_recipe_is_an_error_message(admin_client):
    response = admin_client.post(
        reverse("admin:postpurchase_flow_recipes"), {"recipe": "nope"}, follow=True
    )
    assert b"Unknown recipe" in response.content
    assert Flow.objects.count() == 0


def test_installing_needs_add_permission(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_flow"))
    client.force_login(user)
    assert client.get(reverse("admin:postpurchase_flow_recipes")).status_code == 200
    response = client.post(
        reverse("admin:postpurchase_flow_recipes"), {"recipe": "post-purchase-series"}
    )
    assert response.status_code == 403
    assert Flow.objects.count() == 0


def test_deleting_a_step_of_a_live_flow_moves_its_enrollments_on(
    default_flow, frozen, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from postpurchase import engine
    from postpurchase.models import Enrollment, Message

    from .helpers import place

    with django_capture_on_commit_callbacks(execute=True):
        place()
    enrollment = Enrollment.objects.get()
    waiting_at = enrollment.step
    assert waiting_at.position == 2  # the 2-day delay
    waiting_at.get_real_instance().delete()
    enrollment.refresh_from_db()
    assert enrollment.status == "active"
    assert enrollment.step.position == 3  # the come-back email, due now
    engine.run_due()
    assert Message.objects.filter(status="sent").count() == 2
    frozen.advance(timedelta(days=8))
    engine.run_due()
    assert Message.objects.filter(status="sent").count() == 3
