"""Admin: the contact's consent history, and the data-protection actions on contacts
(export everything as JSON, erase, lift an erased address's block). Thin wrappers
around ``postpurchase.dataprotection``."""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from postpurchase.admin.logs import ReadOnlyInline
from postpurchase.dataprotection import suppression
from postpurchase.dataprotection.erase import erase_contact
from postpurchase.dataprotection.export import export_contact
from postpurchase.models import Consent, ConsentRecord


class ConsentInline(ReadOnlyInline, admin.TabularInline):
    model = Consent
    extra = 0
    fields = ["purpose", "state", "source", "changed_at"]
    readonly_fields = fields
    verbose_name_plural = _("consent now")


class ConsentRecordInline(ReadOnlyInline, admin.TabularInline):
    model = ConsentRecord
    extra = 0
    fields = ["recorded_at", "purpose", "state", "frequency", "source", "wording", "message"]
    readonly_fields = fields


class DataProtectionActions:
    """Actions of ContactAdmin: each needs its own permission."""

    def has_export_contact_data_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("postpurchase.export_contact_data")

    def has_erase_contact_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("postpurchase.erase_contact")

    @admin.action(
        description=_("Export everything about the selected contacts (JSON)"),
        permissions=["export_contact_data"],
    )
    def export_contact_data(self, request, queryset):
        contacts = list(queryset.order_by("pk"))
        data = [export_contact(c) for c in contacts]
        body = json.dumps(data[0] if len(data) == 1 else data, indent=2, ensure_ascii=False)
        name = f"contact-{contacts[0].pk}.json" if len(contacts) == 1 else "contacts.json"
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        for contact in contacts:
            self.log_change(request, contact, gettext("All data exported"))
        return response

    @admin.action(
        description=_("Erase the selected contacts and everything about them"),
        permissions=["erase_contact"],
    )
    def erase_contacts(self, request, queryset):
        contacts = list(queryset.order_by("pk"))
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/postpurchase/contact/erase_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "contacts": contacts,
                    "opts": self.opts,
                    "back_url": reverse("admin:postpurchase_contact_changelist"),
                    "title": gettext("Erase contacts"),
                },
            )
        for contact in contacts:
            erase_contact(contact)
        self.message_user(
            request,
            gettext("%(n)d contact(s) erased; their addresses will not be mailed again.")
            % {"n": len(contacts)},
        )
        return None

    @admin.action(
        description=_("Lift the erased-address block of the selected contacts"),
        permissions=["change"],
    )
    def lift_erasure(self, request, queryset):
        lifted = [c for c in queryset if suppression.lift(c)]
        for contact in lifted:
            self.log_change(request, contact, gettext("Erased-address block lifted"))
        self.message_user(
            request, gettext("%(n)d contact(s) may receive email again.") % {"n": len(lifted)}
        )
