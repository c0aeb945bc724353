from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from postpurchase.models.fields import ClockDateTimeField


class EmailTemplate(models.Model):
    """An email an EmailStep sends, with one :class:`EmailContent` per language."""

    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=200)
    created_at = ClockDateTimeField(_("created"), auto_now_add=True)
    updated_at = ClockDateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("email template")
        verbose_name_plural = _("email templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EmailContent(models.Model):
    """Subject, preheader and MJML body of a template in one language.

    All three are Django templates; the body usually starts with
    ``{% extends "postpurchase/email/base.mjml" %}``.
    """

    template = models.ForeignKey(
        EmailTemplate, on_delete=models.CASCADE, related_name="contents", verbose_name=_("template")
    )
    language = models.CharField(_("language"), max_length=16)
    subject = models.CharField(_("subject"), max_length=1000)
    preheader = models.CharField(_("preheader"), max_length=1000, blank=True)
    body = models.TextField(_("body (MJML template)"))
    updated_at = ClockDateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("email content")
        verbose_name_plural = _("email contents")
        constraints = [
            models.UniqueConstraint(fields=["template", "language"], name="pp_content_lang_unique")
        ]

    def __str__(self) -> str:
        return f"{self.template} [{self.language}]"
