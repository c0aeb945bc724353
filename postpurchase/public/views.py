"""Public pages reached from emails. Every state change needs a POST: mail scanners
follow (GET) every link in a message, and must not unsubscribe anyone."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from postpurchase import nps
from postpurchase.conf import brand
from postpurchase.models import Contact, EmailFrequency, MarketingTopic, Message, NPSResponse
from postpurchase.public import preferences, ratelimit
from postpurchase.public.tokens import (
    TokenExpired,
    read_nps_token,
    read_preferences_token,
    read_track_token,
    read_unsubscribe_token,
)
from postpurchase.public.unsubscribe import unsubscribe
from postpurchase.tracking.firstparty import record_hit

UNSUBSCRIBE_PAGE = "postpurchase/pages/unsubscribe.html"
NPS_PAGE = "postpurchase/pages/nps.html"
PREFERENCES_PAGE = "postpurchase/pages/preferences.html"


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def expired(request: HttpRequest, template: str, context: dict, language: str | None):
    """410: the link was genuine but is past its kind's TOKEN_MAX_AGE_DAYS."""
    with translation.override(language or None):
        return render(request, template, {**context, "expired": True}, status=410)


def invalid_link(request: HttpRequest, template: str, context: dict, limit: ratelimit.Limit):
    """400 for a bad or unknown token; 429 once the client posted too many. The token is
    checked first: only bad ones count against the client's address, so junk from a
    shared address never locks out a customer with a valid link."""
    if request.method == "POST" and not ratelimit.take(limit, ratelimit.client_address(request)):
        return render(request, template, {**context, "rate_limited": True}, status=429)
    return render(request, template, {**context, "invalid": True}, status=400)


def contact_link_expired(request: HttpRequest, template: str, context: dict, contact_id: int):
    """:func:`expired` in the language of the contact a link was made for."""
    locale = Contact.objects.filter(pk=contact_id).values_list("locale", flat=True).first()
    return expired(request, template, context, locale)


# Every public page is reached from an email by someone who is not logged in:
# login_not_required keeps them working under LoginRequiredMiddleware (Django 5.1+).
# CSRF-exempt: RFC 8058 one-click POSTs come from mail providers without a CSRF token;
# the signed token in the URL is what authorises the request.
@login_not_required
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    context = {"brand": brand(), "form_action": request.path, "done": False, "invalid": False}
    try:
        data = read_unsubscribe_token(token)
        contact = Contact.objects.get(pk=data.contact_id)
    except TokenExpired as exc:
        return contact_link_expired(request, UNSUBSCRIBE_PAGE, context, exc.data.contact_id)
    except (signing.BadSignature, Contact.DoesNotExist):
        context["invalid"] = True
        return render(request, UNSUBSCRIBE_PAGE, context, status=400)
    context["email"] = mask_email(contact.email)
    with translation.override(contact.locale or None):
        if request.method == "POST":
            message = None
            if data.message_id:
                message = Message.objects.filter(pk=data.message_id, contact=contact).first()
            one_click = request.POST.get("List-Unsubscribe") == "One-Click"
            unsubscribe(contact, message=message, source="one_click" if one_click else "link")
            context["done"] = True
        elif contact.unsubscribed_at:
            context["done"] = True
        return render(request, UNSUBSCRIBE_PAGE, context)


# --- NPS survey ------------------------------------------------------------------------


# CSRF-exempt like the unsubscribe page: the signed per-message token authorises the
# POST, and answering from a mail client's preview must work without cookies.
@login_not_required
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def nps_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the survey with the linked score preselected; only POST records."""
    context = {"brand": brand(), "form_action": request.path, "scores": list(nps.SCORES)}
    try:
        message = Message.objects.select_related("contact").get(pk=read_nps_token(token))
    except TokenExpired as exc:
        found = Message.objects.filter(pk=exc.data).values_list("language", "contact__locale")
        language, locale = found.first() or ("", "")
        return expired(request, NPS_PAGE, context, language or locale)
    except (signing.BadSignature, Message.DoesNotExist):
        return invalid_link(request, NPS_PAGE, context, ratelimit.NPS_BAD_TOKENS)
    with translation.override(message.language or message.contact.locale or None):
        if request.method == "POST" and not ratelimit.take(ratelimit.NPS_ANSWERS, str(message.pk)):
            return render(request, NPS_PAGE, {**context, "rate_limited": True}, status=429)
        response = NPSResponse.objects.filter(message=message).first()
        score = nps.parse_score(request.GET.get("score"))
        comment = response.comment if response else ""
        review_opt_in = response.review_opt_in if response else False
        if request.method == "POST":
            score = nps.parse_score(request.POST.get("score"))
            comment = request.POST.get("comment", "")
            review_opt_in = bool(request.POST.get("review_opt_in"))
            if score is None:
                context.update(
                    error=True, comment=comment[: nps.COMMENT_MAX], review_opt_in=review_opt_in
                )
                return render(request, NPS_PAGE, context, status=400)
            response, _changed = nps.record_answer(message, score, comment, review_opt_in)
            context["done"] = True
        elif score is None and response is not None:
            score = response.score
        context.update(
            selected=score,
            comment=comment,
            review_opt_in=review_opt_in,
            answered=response is not None,
        )
        return render(request, NPS_PAGE, context)


# --- first-party tracking ----------------------------------------------------------------

#: A transparent 1x1 GIF.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00"
    b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NO_STORE = {"Cache-Control": "no-store, private, max-age=0"}


# GET and HEAD only, and they change nothing but the recorded event: no login, no CSRF
# (nothing is posted), the signed token in the path is the whole request.
@login_not_required
@require_http_methods(["GET", "HEAD"])
def track_open_view(request: HttpRequest, token: str) -> HttpResponse:
    """The open pixel of a first-party tracked email."""
    try:
        link = read_track_token(token)
    except signing.BadSignature:
        link = None  # expired, tampered or foreign: an image all the same, not counted
    if link is not None and link.url is None:
        record_hit(request, link)
    return HttpResponse(PIXEL, content_type="image/gif", headers=NO_STORE)


@login_not_required
@require_http_methods(["GET", "HEAD"])
def track_click_view(request: HttpRequest, token: str) -> HttpResponse:
    """A tracked link: redirect to the destination signed into its token (never
    anywhere else), after recording the click."""
    try:
        link, counted = read_track_token(token), True
    except TokenExpired as exc:
        link, counted = exc.data, False  # an old email's link still works, uncounted
    except signing.BadSignature:
        raise Http404("Unknown link") from None
    if link.url is None:
        raise Http404("Unknown link")  # the pixel's token, not a link's
    if counted:
        record_hit(request, link)
    return HttpResponseRedirect(link.url, headers=NO_STORE)


# --- preference centre -------------------------------------------------------------------


# CSRF-exempt like the other pages: the signed per-contact token authorises the POST.
@login_not_required
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def preferences_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the customer's choices; only POST changes them."""
    context = {"brand": brand(), "form_action": request.path}
    try:
        data = read_preferences_token(token)
        contact = Contact.objects.get(pk=data.contact_id)
    except TokenExpired as exc:
        return contact_link_expired(request, PREFERENCES_PAGE, context, exc.data.contact_id)
    except (signing.BadSignature, Contact.DoesNotExist):
        return invalid_link(request, PREFERENCES_PAGE, context, ratelimit.PREFERENCES_BAD_TOKENS)
    with translation.override(contact.locale or None):
        context.update(
            email=mask_email(contact.email),
            intro=preferences.intro(),
            topics=MarketingTopic.choices,
            frequencies=EmailFrequency.choices,
        )
        status = 200
        if request.method == "POST":
            if not ratelimit.take(ratelimit.PREFERENCES_CHANGES, str(contact.pk)):
                return render(
                    request, PREFERENCES_PAGE, {**context, "rate_limited": True}, status=429
                )
            message = None
            if data.message_id:
                message = Message.objects.filter(pk=data.message_id, contact=contact).first()
            if request.POST.get("unsubscribe_all"):
                preferences.unsubscribe_all(contact, message=message)
                context["done"] = "unsubscribed"
            else:
                choice = preferences.parse(
                    request.POST.getlist("topics"), request.POST.get("frequency")
                )
                if choice is None:
                    context["error"] = True
                    status = 400
                else:
                    preferences.save(contact, choice, message=message)
                    context["done"] = "saved" if choice.subscribed else "unsubscribed"
        context["choice"] = preferences.current(contact)
        return render(request, PREFERENCES_PAGE, context, status=status)
