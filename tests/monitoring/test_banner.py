"""The admin banner: open incidents on the admin index, the app's index and the flow
pages; one small query, nothing when all is well."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.template import Context, Template
from django.urls import reverse

from postpurchase import clock
from postpurchase.models import Incident
from postpurchase.testing.factories import FlowFactory

pytestmark = pytest.mark.django_db

PAGES = [
    ("admin:index", []),
    ("admin:app_list", ["postpurchase"]),
    ("admin:postpurchase_flow_changelist", []),
]


@pytest.fixture
def incident(frozen):
    return Incident.objects.create(
        kind=Incident.Kind.BACKLOG,
        opened_at=clock.now(),
        last_seen_at=clock.now(),
        details={"count": 7, "backlog_minutes": 30, "oldest_due_at": "2026-11-23T08:00:00"},
    )


@pytest.mark.parametrize("name,args", PAGES)
def test_open_incidents_show_on_the_admin_pages(admin_client, incident, name, args):
    page = admin_client.get(reverse(name, args=args)).content.decode()
    assert "Post-purchase emails need attention:" in page
    assert "Enrollments of live flows due more than 30 min. ago and not advanced: 7" in page
    assert reverse("admin:postpurchase_incident_change", args=[incident.pk]) in page


def test_the_flow_form_shows_them_too(admin_client, incident):
    flow = FlowFactory()
    page = admin_client.get(reverse("admin:postpurchase_flow_change", args=[flow.pk]))
    assert "Post-purchase emails need attention:" in page.content.decode()


@pytest.mark.parametrize("name,args", PAGES)
def test_no_banner_when_all_is_well_or_resolved(admin_client, incident, name, args):
    incident.resolved_at = clock.now()
    incident.save()
    page = admin_client.get(reverse(name, args=args)).content.decode()
    assert "need attention" not in page


def test_the_banner_costs_one_query(incident, django_assert_num_queries):
    template = Template("{% load postpurchase_health %}{% postpurchase_health_banner %}")
    with django_assert_num_queries(1):
        html = template.render(Context({}))
    assert "Scheduler stalled" in html


def test_the_incident_page_explains_it(admin_client, incident):
    page = admin_client.get(reverse("admin:postpurchase_incident_change", args=[incident.pk]))
    assert page.status_code == 200
    assert "is the scheduler" in page.content.decode().lower()


def test_an_incident_with_figures_missing_still_renders(admin_client, frozen):
    Incident.objects.create(
        kind=Incident.Kind.FAILURE_RATE, opened_at=clock.now(), last_seen_at=clock.now()
    )
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "failing or waiting to retry: 0 of 0 (0.00 %" in page


def _staff(django_user_model, *codenames: str):
    user = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return django_user_model.objects.get(pk=user.pk)  # a fresh permission cache


def test_staff_who_may_not_view_incidents_see_no_banner(client, django_user_model, incident):
    """A clerk of another app on the same admin site: the banner (flow names, figures,
    a link to a page they may not open) is not for them."""
    client.force_login(_staff(django_user_model, "view_order"))
    page = client.get(reverse("admin:index"))
    assert page.status_code == 200
    assert "need attention" not in page.content.decode()


def test_staff_who_may_view_incidents_see_it(client, django_user_model, incident):
    client.force_login(_staff(django_user_model, "view_incident", "view_flow"))
    for name, args in [("admin:index", []), ("admin:postpurchase_flow_changelist", [])]:
        page = client.get(reverse(name, args=args)).content.decode()
        assert "Post-purchase emails need attention:" in page
