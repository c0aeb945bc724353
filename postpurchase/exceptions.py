"""Errors raised by django-postpurchase.

Every runtime error derives from :class:`PostpurchaseError`; configuration errors are
kept outside that root (they are ``ImproperlyConfigured``) so nothing swallows them.
"""

from django.core.exceptions import ImproperlyConfigured


class PostpurchaseError(Exception):
    """Root of the errors this app raises at run time."""


class PostpurchaseConfigurationError(ImproperlyConfigured):
    """A setting is missing or malformed."""


class AdapterError(PostpurchaseError, ValueError):
    """The shop adapter returned data the app cannot use (e.g. an order without email)."""


class InvalidEventError(PostpurchaseError, ValueError):
    """``track()`` was called with arguments that cannot make an event."""


class TemplateRenderError(PostpurchaseError):
    """An email step's template failed to render; names the template, language and line."""

    def __init__(self, message: str, *, template: str = "", language: str = "", line=None):
        super().__init__(message)
        self.template = template
        self.language = language
        self.line = line


class FlowDefinitionError(PostpurchaseError, ValueError):
    """A flow or recipe definition is invalid."""


class FlowNotLaunchedError(FlowDefinitionError):
    """A flow was asked to go live but does not validate; it keeps its status."""

    def __init__(self, flow, problems: list[str]):
        self.flow = flow
        self.problems = problems
        listed = "".join(f"\n  - {p}" for p in problems)
        super().__init__(f"Flow {flow.slug!r} (id {flow.pk}) cannot go live:{listed}")


class AdapterCallError(PostpurchaseError):
    """The shop adapter raised while an email was being rendered (its database or an
    API it calls is down, say). Not the template's fault: the email is tried again."""
