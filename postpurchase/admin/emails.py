"""Admin: email templates with their per-language contents."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from postpurchase.models import (
    EmailContent,
    EmailTemplate,
)


class EmailContentInline(admin.StackedInline):
    model = EmailContent
    extra = 0


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "languages", "updated_at"]
    search_fields = ["name", "slug"]
    inlines = [EmailContentInline]

    def get_queryset(self, request):
        # The languages column reads every template's contents: one query, not one a row.
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch(
                    "contents", queryset=EmailContent.objects.only("id", "template", "language")
                )
            )
        )

    @admin.display(description=_("languages"))
    def languages(self, obj):
        return ", ".join(sorted(c.language for c in obj.contents.all()))
