"""Public pages reached from emails. Every state change needs a POST: mail scanners
follow (GET) every link in a message, and must not unsubscribe anyone."""

from __future__ import annotations

from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .conf import brand
from .models import Contact, Message, NPSResponse
from .tokens import read_unsubscribe_token
from .unsubscribe import unsubscribe


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


# CSRF-exempt: RFC 8058 one-click POSTs come from mail providers without a CSRF token;
# the signed token in the URL is what authorises the request.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    context = {"brand": brand(), "form_action": request.path, "done": False, "invalid": False}
    try:
        data = read_unsubscribe_token(token)
        contact = Contact.objects.get(pk=data.contact_id)
    except (signing.BadSignature, Contact.DoesNotExist):
        context["invalid"] = True
        return render(request, "postpurchase/pages/unsubscribe.html", context, status=400)
    context["email"] = mask_email(contact.email)
    if request.method == "POST":
        message = None
        if data.message_id:
            message = Message.objects.filter(pk=data.message_id, contact=contact).first()
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        unsubscribe(contact, message=message, source="one_click" if one_click else "link")
        context["done"] = True
    elif contact.unsubscribed_at:
        context["done"] = True
    return render(request, "postpurchase/pages/unsubscribe.html", context)


# --- NPS survey ------------------------------------------------------------------------

#: POSTs one client may make to NPS pages per window (the endpoint is public).
NPS_RATE_LIMIT = 20
NPS_RATE_WINDOW = 600  # seconds


def client_key(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def rate_limited(request: HttpRequest, scope: str, limit: int, window: int) -> bool:
    """Count this request against the client's allowance; True once it is spent."""
    key = f"postpurchase:rate:{scope}:{client_key(request)}"
    cache.add(key, 0, window)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        used = 1
    return used > limit


# CSRF-exempt like the unsubscribe page: the signed per-message token authorises the
# POST, and answering from a mail client's preview must work without cookies.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def nps_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the survey with the linked score preselected; only POST records."""
    from . import nps

    context = {"brand": brand(), "form_action": request.path, "scores": list(nps.SCORES)}
    if request.method == "POST" and rate_limited(request, "nps", NPS_RATE_LIMIT, NPS_RATE_WINDOW):
        context["rate_limited"] = True
        return render(request, "postpurchase/pages/nps.html", context, status=429)
    try:
        message = Message.objects.select_related("contact").get(pk=nps.read_nps_token(token))
    except (signing.BadSignature, Message.DoesNotExist, ValidationError, ValueError):
        context["invalid"] = True
        return render(request, "postpurchase/pages/nps.html", context, status=400)
    with translation.override(message.language or message.contact.locale or None):
        response = NPSResponse.objects.filter(message=message).first()
        score = nps.parse_score(request.GET.get("score"))
        comment = response.comment if response else ""
        if request.method == "POST":
            score = nps.parse_score(request.POST.get("score"))
            comment = request.POST.get("comment", "")
            if score is None:
                context.update(error=True, comment=comment[: nps.COMMENT_MAX])
                return render(request, "postpurchase/pages/nps.html", context, status=400)
            response, _changed = nps.record_answer(message, score, comment)
            context["done"] = True
        elif score is None and response is not None:
            score = response.score
        context.update(selected=score, comment=comment, answered=response is not None)
        return render(request, "postpurchase/pages/nps.html", context)
