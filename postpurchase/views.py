"""Public pages reached from emails. Every state change needs a POST: mail scanners
follow (GET) every link in a message, and must not unsubscribe anyone."""

from __future__ import annotations

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .conf import brand
from .models import Contact, Message
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
