"""Will the configured email backend take the emails this app sends? Asked early (system
check, going live) instead of finding out from a failed send.

An Anymail backend builds its ESP payload without any network call, and raises
``AnymailUnsupportedFeature`` there for what its ESP cannot do (more than one tag on
Postmark, say); building a sample email of each category shows it.
"""

from __future__ import annotations

from types import SimpleNamespace

from anymail.backends.base import AnymailBaseBackend
from anymail.exceptions import AnymailError
from django.core.mail import get_connection
from django.utils.translation import gettext as _

from postpurchase.delivery.compose import build_email
from postpurchase.email.rendering import RenderedEmail

_SAMPLE = RenderedEmail(
    language="en", subject="Sample", preheader="", html="<p>Sample</p>", text="Sample"
)


def backend_problems() -> list[str]:
    """Why the configured email backend cannot send this app's emails ([] when it can)."""
    try:
        backend = get_connection(fail_silently=False)
    except Exception as exc:
        return [_("The email backend cannot be created: %(error)s") % {"error": _describe(exc)}]
    if not isinstance(backend, AnymailBaseBackend):
        return []  # SMTP, console, locmem: nothing to check before sending
    problems = []
    for category in ("transactional", "marketing"):
        email = build_email(_sample_message(category), _SAMPLE, _sample_step())
        try:
            backend.build_message_payload(email, backend.send_defaults)
        except (AnymailError, ValueError, TypeError) as exc:
            problems.append(
                _("%(esp)s cannot send this app's %(category)s emails: %(error)s")
                % {"esp": backend.esp_name, "category": category, "error": _describe(exc)}
            )
            break
    return problems


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def _sample_message(category: str):
    contact = SimpleNamespace(pk=0, full_name="Sample Customer", email="customer@example.com")
    return SimpleNamespace(
        pk="00000000-0000-0000-0000-000000000000",
        contact=contact,
        to_email=contact.email,
        category=category,
    )


def _sample_step():
    return SimpleNamespace(flow_id=0, pk=0, template=SimpleNamespace(slug="sample"))
