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

    With the raw MJML editor all three are Django templates; the body usually starts
    with ``{% extends "postpurchase/email/base.mjml" %}``. With the block editor the
    body is built from the content's :class:`EmailBlock` rows (``email.blocks``) each
    time they are saved, and subject and preheader take ``{{ variable }}`` names from
    the variables menu, never template syntax.
    """

    BLOCKS = "blocks"
    MJML = "mjml"
    EDITOR_CHOICES = [(BLOCKS, _("Blocks")), (MJML, _("MJML (for developers)"))]

    template = models.ForeignKey(
        EmailTemplate, on_delete=models.CASCADE, related_name="contents", verbose_name=_("template")
    )
    language = models.CharField(_("language"), max_length=16)
    subject = models.CharField(_("subject"), max_length=1000)
    preheader = models.CharField(_("preheader"), max_length=1000, blank=True)
    editor = models.CharField(
        _("editor"),
        max_length=10,
        choices=EDITOR_CHOICES,
        default=MJML,
        help_text=_(
            "Blocks: the email is put together from blocks, no code. MJML: the body is an "
            "MJML template written by a developer."
        ),
    )
    body = models.TextField(
        _("body (MJML template)"),
        blank=True,
        help_text=_("Built from the blocks when the block editor is chosen."),
    )
    updated_at = ClockDateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("email content")
        verbose_name_plural = _("email contents")
        constraints = [
            models.UniqueConstraint(fields=["template", "language"], name="pp_content_lang_unique")
        ]

    def __str__(self) -> str:
        return f"{self.template} [{self.language}]"


class EmailBlock(models.Model):
    """One block of an email built with the block editor, in its content's language.

    What each field means depends on ``kind`` (a registered block type, see
    ``postpurchase.email.blocks``): ``text`` is a heading, a paragraph in the small
    markup or a shop block's heading; ``label`` a button's text; ``link`` where a button
    or image leads (``url`` for a custom address, or an image's address); ``size`` a
    spacer's height.
    """

    content = models.ForeignKey(
        EmailContent, on_delete=models.CASCADE, related_name="blocks", verbose_name=_("content")
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    kind = models.CharField(_("block type"), max_length=50)
    text = models.TextField(_("text"), blank=True)
    label = models.CharField(_("button text"), max_length=200, blank=True)
    link = models.CharField(_("link to"), max_length=20, blank=True)
    url = models.CharField(_("address (URL)"), max_length=1000, blank=True)
    alt = models.CharField(_("alternative text"), max_length=300, blank=True)
    size = models.PositiveSmallIntegerField(_("height (px)"), null=True, blank=True)

    class Meta:
        verbose_name = _("block")
        verbose_name_plural = _("blocks")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.kind}"
