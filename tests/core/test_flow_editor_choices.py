"""The flow editor offers choices, not free text: events from the known ones, weekdays
as checkboxes, step positions numbered for the marketer, one banner per outcome."""

from __future__ import annotations

import json
import re

import pytest
from django import forms
from django.urls import reverse

from postpurchase.admin.flows import offered_values
from postpurchase.conf import get_setting
from postpurchase.exceptions import PostpurchaseConfigurationError
from postpurchase.flows.event_names import BUILT_IN
from postpurchase.flows.validation import flow_warnings, validate_flow
from postpurchase.models import DelayStep, Flow, Step
from postpurchase.signals import ORDER_SIGNALS
from postpurchase.testing.factories import (
    DelayStepFactory,
    EmailStepFactory,
    EventFactory,
    FlowFactory,
)

pytestmark = pytest.mark.django_db


def _value(bound) -> list[str] | str | None:
    """What the browser would send for a field as shown (None: nothing)."""
    value = bound.value()
    if isinstance(bound.field, forms.BooleanField):
        return "on" if value else None
    if isinstance(value, list | tuple):
        return [str(v) for v in value] or None
    return "" if value is None else str(value)


def form_data(response, add: list[type[Step]] = ()) -> dict:
    """The POST the page's form sends as it stands, plus new rows of the ``add`` kinds."""
    data: dict = {}

    def put(bound, name: str) -> None:
        value = _value(bound)
        if value is not None:
            data[name] = value

    for bound in response.context["adminform"].form:
        put(bound, bound.html_name)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for form in formset.forms:
            for bound in form:
                put(bound, bound.html_name)
        total = len(formset.forms)
        for model in add:
            empty = next(f for f in formset.empty_forms if f._meta.model is model)
            for bound in empty:
                put(bound, bound.html_name.replace("__prefix__", str(total)))
            total += 1
        data[f"{formset.prefix}-TOTAL_FORMS"] = str(total)
        data[f"{formset.prefix}-INITIAL_FORMS"] = str(formset.initial_form_count())
        data[f"{formset.prefix}-MIN_NUM_FORMS"] = "0"
        data[f"{formset.prefix}-MAX_NUM_FORMS"] = "1000"
    return data


def change_url(flow: Flow) -> str:
    return reverse("admin:postpurchase_flow_change", args=[flow.pk])


def post(admin_client, url: str, data: dict):
    return admin_client.post(url, {**data, "_continue": "1"})


@pytest.fixture
def flow():
    flow = FlowFactory(trigger="order_placed", status="draft")
    DelayStepFactory(flow=flow, position=1, days=1)
    return flow


def test_the_trigger_is_picked_from_the_known_events(admin_client, flow, settings):
    settings.POSTPURCHASE = {
        **settings.POSTPURCHASE,
        "CUSTOM_EVENTS": {"wishlist_added": "Added to the wishlist"},
    }
    EventFactory(name="loyalty_level_up")
    page = admin_client.get(change_url(flow))
    choices = dict(
        (value, label)
        for _group, options in page.context["adminform"].form.fields["trigger"].choices[1:]
        for value, label in options
    )
    assert choices["order_delivered"] == "Order delivered"
    assert choices["nps_submitted"] == "NPS answer submitted"
    assert choices["wishlist_added"] == "Added to the wishlist"
    assert choices["loyalty_level_up"] == "loyalty_level_up"
    data = form_data(page)
    data["trigger"] = "order_delivered"
    response = post(admin_client, change_url(flow), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    flow.refresh_from_db()
    assert flow.trigger == "order_delivered"


def test_a_misspelt_trigger_is_refused_naming_the_field(admin_client, flow):
    data = form_data(admin_client.get(change_url(flow)))
    data["trigger"] = "order_deliverd"
    response = post(admin_client, change_url(flow), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["trigger"]
    assert "order_deliverd" in errors["trigger"][0]
    flow.refresh_from_db()
    assert flow.trigger == "order_placed"


def test_exit_events_and_weekdays_are_checkboxes_that_round_trip(admin_client, flow):
    page = admin_client.get(change_url(flow))
    body = page.content.decode()
    assert 'type="checkbox" name="exit_events" value="order_cancelled"' in body
    assert 'type="checkbox" name="steps-0-weekdays" value="6"' in body
    data = form_data(page)
    data["exit_events"] = ["order_cancelled", "order_refunded"]
    data["steps-0-weekdays"] = ["4", "0", "2"]
    data["steps-0-relative_to"] = "event"
    data["steps-0-event_name"] = "order_delivered"
    response = post(admin_client, change_url(flow), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    flow.refresh_from_db()
    delay = DelayStep.objects.get(flow=flow)
    assert flow.exit_events == ["order_cancelled", "order_refunded"]
    assert (delay.weekdays, delay.event_name) == ("024", "order_delivered")
    # Shown checked again: saving the page unchanged keeps them.
    again = form_data(admin_client.get(change_url(flow)))
    assert again["exit_events"] == ["order_cancelled", "order_refunded"]
    assert again["steps-0-weekdays"] == ["0", "2", "4"]
    post(admin_client, change_url(flow), again)
    delay.refresh_from_db()
    assert delay.weekdays == "024"


def test_no_weekday_is_refused_on_the_field(admin_client, flow):
    data = form_data(admin_client.get(change_url(flow)))
    del data["steps-0-weekdays"]
    response = post(admin_client, change_url(flow), data)
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.forms[0].errors
    assert "weekdays" in errors


def test_unknown_delay_event_is_refused(admin_client, flow):
    data = form_data(admin_client.get(change_url(flow)))
    data["steps-0-relative_to"] = "event"
    data["steps-0-event_name"] = "order_deliverd"
    response = post(admin_client, change_url(flow), data)
    assert response.status_code == 200
    assert "event_name" in response.context["inline_admin_formsets"][0].formset.forms[0].errors


def add_steps(admin_client, flow, kinds, edit=None):
    page = admin_client.get(change_url(flow))
    data = form_data(page, add=kinds)
    for key in data:
        if key.endswith("-days") and data[key] == "0":
            data[key] = "1"
    for key, value in (edit or {}).items():
        data[key] = value
    response = post(admin_client, change_url(flow), data)
    assert response.status_code == 302, [
        f.errors for f in response.context["inline_admin_formsets"][0].formset.forms
    ]


def test_new_steps_get_the_next_positions(admin_client):
    flow = FlowFactory()
    add_steps(admin_client, flow, [DelayStep, DelayStep, DelayStep])
    positions = list(flow.steps.order_by("pk").values_list("position", flat=True))
    assert positions == [1, 2, 3]
    # ...and added later, after the others.
    add_steps(admin_client, flow, [DelayStep])
    assert list(flow.steps.order_by("pk").values_list("position", flat=True)) == [1, 2, 3, 4]


def test_moving_a_step_renumbers_the_others(admin_client):
    flow = FlowFactory()
    a, b, c = (DelayStepFactory(flow=flow, position=n, name=x) for n, x in enumerate("abc", 1))
    add_steps(admin_client, flow, [], edit={"steps-2-position": "1"})  # c up to the top
    assert list(flow.steps.values_list("name", "position")) == [("c", 1), ("a", 2), ("b", 3)]
    add_steps(admin_client, flow, [], edit={"steps-0-position": "3"})  # c down to the end
    assert list(flow.steps.values_list("name", "position")) == [("a", 1), ("b", 2), ("c", 3)]


def test_legacy_steps_all_at_zero_are_numbered_in_their_order(admin_client):
    flow = FlowFactory()
    first, second = DelayStepFactory(flow=flow, position=0), DelayStepFactory(flow=flow, position=0)
    add_steps(admin_client, flow, [DelayStep])
    positions = dict(flow.steps.values_list("pk", "position"))
    assert (positions[first.pk], positions[second.pk]) == (1, 2)
    assert sorted(positions.values()) == [1, 2, 3]


def test_the_step_menu_shows_capitalised_kinds(admin_client, flow):
    page = admin_client.get(change_url(flow))
    match = re.search(r'data-inline-formset="([^"]+)"', page.content.decode())
    data = json.loads(match.group(1).replace("&quot;", '"'))
    names = {child["name"] for child in data["options"]["childTypes"]}
    assert {"Delay", "Email", "Condition", "Notify staff", "Signal"} <= names


def test_every_inbound_signal_has_a_label():
    assert set(ORDER_SIGNALS) | {"review_submitted", "nps_submitted"} <= set(BUILT_IN)


def test_go_live_warns_about_a_trigger_that_never_occurred(default_flow):
    assert validate_flow(default_flow) == []
    assert ["Order placed" in w for w in flow_warnings(default_flow)] == [True]
    EventFactory(name=default_flow.trigger)
    assert flow_warnings(default_flow) == []


def test_go_live_refuses_a_trigger_no_source_sends(default_flow, settings):
    Flow.objects.filter(pk=default_flow.pk).update(trigger="order_deliverd")
    default_flow.refresh_from_db()
    assert any("order_deliverd" in str(p) for p in validate_flow(default_flow))
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "CUSTOM_EVENTS": {"order_deliverd": "X"}}
    assert validate_flow(default_flow) == []
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "CUSTOM_EVENTS": {}}
    EventFactory(name="order_deliverd")  # tracked by the shop: a source exists
    assert validate_flow(default_flow) == []


def test_the_go_live_action_shows_the_warning(admin_client, default_flow):
    Flow.objects.filter(pk=default_flow.pk).update(status="draft")
    response = admin_client.post(
        reverse("admin:postpurchase_flow_changelist"),
        {"action": "go_live", "_selected_action": [default_flow.pk]},
        follow=True,
    )
    texts = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert texts[0][0] == "warning" and "Order placed" in texts[0][1], texts
    assert texts[1] == ("info", "1 flow(s) are live.")
    default_flow.refresh_from_db()
    assert default_flow.status == "live"


def test_a_refused_go_live_shows_only_the_refusal(admin_client):
    flow = FlowFactory(trigger="order_placed", status="draft")  # no steps: cannot go live
    data = form_data(admin_client.get(change_url(flow)))
    data["status"] = "live"
    response = admin_client.post(change_url(flow), {**data, "_continue": "1"}, follow=True)
    texts = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert [level for level, _ in texts] == ["error"], texts
    assert "cannot go live" in texts[0][1]
    flow.refresh_from_db()
    assert flow.status == "draft"


def test_going_live_from_the_page_warns_when_the_trigger_never_occurred(admin_client, default_flow):
    Flow.objects.filter(pk=default_flow.pk).update(status="draft")
    data = form_data(admin_client.get(change_url(default_flow)))
    data["status"] = "live"
    response = admin_client.post(change_url(default_flow), {**data, "_continue": "1"}, follow=True)
    levels = sorted(m.level_tag for m in response.context["messages"])
    assert levels == ["success", "warning"]
    default_flow.refresh_from_db()
    assert default_flow.status == "live"


@pytest.mark.parametrize(
    "value", [[], {"has space": "X"}, {"ok": ""}, {"ok": 3}, {"": "X"}, {"x" * 101: "X"}]
)
def test_custom_events_are_validated(settings, value):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "CUSTOM_EVENTS": value}
    with pytest.raises(PostpurchaseConfigurationError, match="CUSTOM_EVENTS"):
        get_setting("CUSTOM_EVENTS")


def test_factories_with_string_triggers_still_work():
    flow = FlowFactory(trigger="order_shipped")
    EmailStepFactory(flow=flow)
    assert flow.trigger == "order_shipped"


def _as_a_browser_sends(response) -> dict:
    """Checkboxes and selects can only submit the values they render."""
    data = form_data(response)
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        if isinstance(field, forms.MultipleChoiceField):
            offered = offered_values(field.choices)
            data[name] = [v for v in data.get(name, []) if v in offered]
    return data


def test_saving_a_flow_keeps_stored_events_that_are_not_in_the_list(admin_client):
    flow = FlowFactory(
        trigger="legacy_signup",
        status="draft",
        exit_events=["order_cancelled", "subscription_cancelled"],
    )
    delay = DelayStepFactory(flow=flow, position=1, days=1)
    DelayStep.objects.filter(pk=delay.pk).update(relative_to="event", event_name="legacy_ping")
    data = _as_a_browser_sends(admin_client.get(change_url(flow)))
    data["name"] = "renamed"
    assert post(admin_client, change_url(flow), data).status_code in (200, 302)
    flow.refresh_from_db()
    assert flow.name == "renamed"
    assert flow.trigger == "legacy_signup"
    assert flow.exit_events == ["order_cancelled", "subscription_cancelled"]
    assert DelayStep.objects.get(pk=delay.pk).event_name == "legacy_ping"


def test_the_flow_list_shows_and_filters_triggers_by_their_labels(admin_client):
    delivered = FlowFactory(name="Care tips", trigger="order_delivered")
    FlowFactory(name="Thank you", trigger="order_placed")
    url = reverse("admin:postpurchase_flow_changelist")
    page = admin_client.get(url).content.decode()
    assert str(BUILT_IN["order_delivered"]) in page
    assert ">order_delivered<" not in page
    filtered = admin_client.get(url, {"trigger": "order_delivered"})
    assert list(filtered.context["cl"].queryset) == [delivered]
