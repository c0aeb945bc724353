"""NPS surveys: the email step that asks "how likely are you to recommend us" and the
answers it collects (domain E5). The work lives in ``postpurchase/nps.py``."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from postpurchase.models.steps import EmailStep


class NPSStep(EmailStep):
    """An email with the 0-10 "would you recommend us" scale. Its template shows the
    scale with ``{% include "postpurchase/email/partials/nps_scale.mjml" %}``; each of
    the eleven links opens a page where the customer confirms the score (POST)."""

    #: What a template must contain to show the scale (the partial or the tags).
    SCALE_MARKERS = ("nps_scale.mjml", "nps_url", "nps_scale_links")

    class Meta:
        verbose_name = _("NPS survey email")
        verbose_name_plural = _("NPS survey emails")

    def clean(self) -> None:
        super().clean()
        if self.template_id is None:
            return
        bodies = self.template.contents.values_list("body", flat=True)
        missing = [b for b in bodies if not any(m in b for m in self.SCALE_MARKERS)]
        if missing or not bodies:
            raise ValidationError(
                {
                    "template": _(
                        "Every language of an NPS survey's template must show the scale: "
                        '{% include "postpurchase/email/partials/nps_scale.mjml" %}.'
                    )
                }
            )


class NPSResponse(models.Model):
    """One answer to one survey email: unique per message, so a changed answer updates
    the row instead of counting twice."""

    class Category(models.TextChoices):
        PROMOTER = "promoter", _("Promoter (9-10)")
        PASSIVE = "passive", _("Passive (7-8)")
        DETRACTOR = "detractor", _("Detractor (0-6)")

    message = models.OneToOneField(
        "postpurchase.Message",
        on_delete=models.CASCADE,
        related_name="nps_response",
        verbose_name=_("message"),
    )
    contact = models.ForeignKey(
        "postpurchase.Contact",
        on_delete=models.CASCADE,
        related_name="nps_responses",
        verbose_name=_("contact"),
    )
    # The enrollment holds the order snapshot the survey was about.
    enrollment = models.ForeignKey(
        "postpurchase.Enrollment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="nps_responses",
        verbose_name=_("enrollment (order snapshot)"),
    )
    flow = models.ForeignKey(
        "postpurchase.Flow",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="nps_responses",
        verbose_name=_("flow"),
    )
    order_ref = models.CharField(_("order"), max_length=200, blank=True, db_index=True)
    #: Product categories of the order's items, for the report.
    categories = models.JSONField(_("product categories"), default=list, blank=True)
    score = models.PositiveSmallIntegerField(_("score"), validators=[MaxValueValidator(10)])
    comment = models.TextField(_("comment"), blank=True)
    # The respondent ticked "I'd like to write a public review": whatever the score, the
    # review follow-up goes to them (no review gating).
    review_opt_in = models.BooleanField(_("wants to write a public review"), default=False)
    category = models.CharField(_("category"), max_length=10, choices=Category.choices)
    created_at = models.DateTimeField(_("answered at"), db_index=True)
    updated_at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("NPS response")
        verbose_name_plural = _("NPS responses")
        permissions = [("export_npsresponse", _("Can export NPS responses as CSV"))]
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(score__lte=10), name="pp_nps_score_0_10")
        ]

    def __str__(self) -> str:
        return f"{self.score} ({self.category}) - {self.contact_id}"
