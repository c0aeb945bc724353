"""Webhook posts as each ESP sends them (the formats their docs publish), for Anymail's
tracking views. Each builder returns (url, body, extra client kwargs)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

BASIC_AUTH = "anymail-user:anymail-password"
MAILGUN_SIGNING_KEY = "test-mailgun-webhook-signing-key"

WHEN = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EPOCH = int(WHEN.timestamp())
ISO = "2026-11-23T12:00:00Z"
URL = "https://shop.example.com/product/backpack?utm_source=email"
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def auth_headers(credentials: str = BASIC_AUTH) -> dict[str, str]:
    token = base64.b64encode(credentials.encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


# --- SendGrid: a JSON array of events; custom_args come back as top-level keys -------

SENDGRID_EVENTS = {
    "delivered": {"event": "delivered", "response": "250 2.0.0 OK"},
    "opened": {"event": "open", "useragent": UA, "ip": "203.0.113.7"},
    "clicked": {"event": "click", "url": URL, "useragent": UA, "ip": "203.0.113.7"},
    "bounced": {
        "event": "bounce",
        "type": "bounce",
        "status": "5.1.1",
        "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
    },
    "soft_bounced": {"event": "bounce", "type": "blocked", "reason": "421 try again later"},
    "rejected": {"event": "dropped", "reason": "Invalid"},
    "complained": {"event": "spamreport"},
    "unsubscribed": {"event": "unsubscribe"},
}


def sendgrid_event(kind, recipient, metadata, event_id, message_id="") -> dict:
    event = {
        "email": recipient,
        "timestamp": EPOCH,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "sg_event_id": event_id,
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        # Anymail's SendGrid backend adds its message id as a custom arg.
        "anymail_id": message_id or "3c2f4c2b-5f7f-4a5e-9a43-1b6f1d7c2e11",
        **SENDGRID_EVENTS[kind],
        **metadata,
    }
    return event


def sendgrid(kind, recipient, metadata, event_id="sg-event-1", message_id=""):
    body = [sendgrid_event(kind, recipient, metadata, event_id, message_id)]
    return "/anymail/sendgrid/tracking/", json.dumps(body), auth_headers()


# --- Mailgun: one signed event per post ----------------------------------------------

MAILGUN_EVENTS = {
    "delivered": {"event": "delivered", "delivery-status": {"code": 250, "message": "OK"}},
    "opened": {"event": "opened", "ip": "203.0.113.7", "client-info": {"user-agent": UA}},
    "clicked": {
        "event": "clicked",
        "url": URL,
        "ip": "203.0.113.7",
        "client-info": {"user-agent": UA},
    },
    "bounced": {
        "event": "failed",
        "severity": "permanent",
        "reason": "bounce",
        "delivery-status": {
            "code": 550,
            "message": "5.1.1 The email account that you tried to reach does not exist.",
            "description": "",
        },
    },
    "soft_bounced": {
        "event": "failed",
        "severity": "temporary",
        "reason": "generic",
        "delivery-status": {"code": 498, "message": "No MX", "description": "No MX"},
    },
    "complained": {"event": "complained"},
    "unsubscribed": {"event": "unsubscribed"},
}


def mailgun(kind, recipient, metadata, event_id="a1b2c3d4e5f60718293a4b5c6d7e8f90", message_id=""):
    timestamp = str(EPOCH)
    signature = hmac.new(
        MAILGUN_SIGNING_KEY.encode(), f"{timestamp}{event_id}".encode(), hashlib.sha256
    ).hexdigest()
    body = {
        "signature": {"timestamp": timestamp, "token": event_id, "signature": signature},
        "event-data": {
            "id": "CPgfbmQMTCKtHW6uIWtuVe",
            "timestamp": EPOCH + 0.5,
            "log-level": "info",
            "recipient": recipient,
            "tags": [],
            "user-variables": metadata,
            "message": {
                "headers": {
                    "to": recipient,
                    "message-id": message_id or "20261123120000.1.ABCDEF@mg.example.com",
                    "from": "shop@example.com",
                    "subject": "Your order",
                }
            },
            **MAILGUN_EVENTS[kind],
        },
    }
    return "/anymail/mailgun/tracking/", json.dumps(body), auth_headers()


# --- Postmark: one event per post; bounces carry an ID, other records do not ---------


def postmark(kind, recipient, metadata, event_id="4323372036854775807", message_id=""):
    common = {
        "MessageID": message_id or "883953f4-6105-42a2-a16a-77a8eac79483",
        "MessageStream": "outbound",
        "Metadata": metadata,
        "Tag": "marketing",
    }
    bounce = {
        "RecordType": "Bounce",
        "ID": int(event_id),
        "TypeCode": 1,
        "Email": recipient,
        "From": "shop@example.com",
        "BouncedAt": ISO,
        "Description": "The server was unable to deliver your message (ex: unknown user).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Inactive": True,
        "CanActivate": True,
        "ServerID": 23,
    }
    records = {
        "delivered": {
            "RecordType": "Delivery",
            "Recipient": recipient,
            "DeliveredAt": ISO,
            "Details": "Test delivery webhook details",
            "ServerID": 23,
        },
        "opened": {
            "RecordType": "Open",
            "FirstOpen": True,
            "Recipient": recipient,
            "ReceivedAt": ISO,
            "Platform": "WebMail",
            "ReadSeconds": 5,
            "UserAgent": UA,
            "Geo": {"IP": "203.0.113.7", "CountryISOCode": "RS"},
        },
        "clicked": {
            "RecordType": "Click",
            "ClickLocation": "HTML",
            "Recipient": recipient,
            "ReceivedAt": ISO,
            "Platform": "Desktop",
            "OriginalLink": URL,
            "UserAgent": UA,
            "Geo": {"IP": "203.0.113.7"},
        },
        "bounced": {**bounce, "Type": "HardBounce", "Name": "Hard bounce"},
        "soft_bounced": {**bounce, "Type": "SoftBounce", "TypeCode": 4096, "Name": "Soft bounce"},
        "complained": {
            **bounce,
            "RecordType": "SpamComplaint",
            "Type": "SpamComplaint",
            "TypeCode": 512,
            "Name": "Spam complaint",
        },
        "unsubscribed": {
            "RecordType": "SubscriptionChange",
            "Recipient": recipient,
            "ChangedAt": ISO,
            "Origin": "Recipient",
            "SuppressSending": True,
            "SuppressionReason": "ManualSuppression",
            "ServerID": 23,
        },
    }
    body = {**common, **records[kind]}
    return "/anymail/postmark/tracking/", json.dumps(body), auth_headers()


# --- Brevo: one event per post, no event id; metadata in X-Mailin-custom -------------

BREVO_EVENTS = {
    "delivered": {"event": "delivered"},
    "opened": {"event": "unique_opened"},
    "clicked": {"event": "click", "link": URL},
    "bounced": {"event": "hard_bounce", "reason": "550 5.1.1 user unknown"},
    "soft_bounced": {"event": "soft_bounce", "reason": "452 mailbox full"},
    "complained": {"event": "spam"},
    "unsubscribed": {"event": "unsubscribe"},
}


def brevo(kind, recipient, metadata, event_id="", message_id=""):
    body = {
        "id": 1234567,
        "email": recipient,
        "date": "2026-11-23 13:00:00",
        "ts": EPOCH,
        "ts_event": EPOCH,
        "ts_epoch": EPOCH * 1000,
        "message-id": message_id or "<202611231200.12345678901@smtp-relay.mailin.fr>",
        "subject": "Your order",
        "tag": "marketing",
        "sending_ip": "185.41.28.109",
        "X-Mailin-custom": json.dumps(metadata),
        **BREVO_EVENTS[kind],
    }
    if event_id:  # Brevo has no event id: vary the event to tell two apart
        body["ts_epoch"] += int(event_id)
    return "/anymail/brevo/tracking/", json.dumps(body), auth_headers()


# --- Resend: one event per post (Svix), the event id in the svix-id header ----------

RESEND_DATA = {
    "delivered": ("email.delivered", {}),
    "opened": ("email.opened", {}),
    "clicked": (
        "email.clicked",
        {
            "click": {
                "ipAddress": "203.0.113.7",
                "link": URL,
                "timestamp": ISO,
                "userAgent": UA,
            }
        },
    ),
    "bounced": (
        "email.bounced",
        {
            "bounce": {
                "message": "The recipient's email provider sent a hard bounce message, "
                "so Resend will not send to this address again.",
                "subType": "General",
                "type": "Permanent",
            }
        },
    ),
    "soft_bounced": (
        "email.bounced",
        {
            "bounce": {
                "message": "The recipient's email provider sent a bounce message because "
                "the recipient's inbox was full.",
                "subType": "MailboxFull",
                "type": "Transient",
            }
        },
    ),
    "complained": ("email.complained", {}),
}


def resend(kind, recipient, metadata, event_id="msg_2a1ZgqG5bDm6XWbUtp6fM2ZqGWb", message_id=""):
    event_type, extra = RESEND_DATA[kind]
    headers = [{"name": "X-Metadata", "value": json.dumps(metadata)}] if metadata else []
    body = {
        "type": event_type,
        "created_at": ISO,
        "data": {
            "created_at": "2026-11-23 11:59:58.123+00",
            "email_id": message_id or "56761188-7520-42d8-8898-ff6fc54ce618",
            "from": "Shop <shop@example.com>",
            "to": [recipient],
            "subject": "Your order",
            "headers": headers,
            **extra,
        },
    }
    return (
        "/anymail/resend/tracking/",
        json.dumps(body),
        {**auth_headers(), "HTTP_SVIX_ID": event_id, "HTTP_SVIX_TIMESTAMP": str(EPOCH)},
    )


ESPS = {
    "sendgrid": sendgrid,
    "mailgun": mailgun,
    "postmark": postmark,
    "brevo": brevo,
    "resend": resend,
}
#: What each ESP reports (Resend has no unsubscribe event).
KINDS = {
    esp: [k for k in ("delivered", "opened", "clicked", "bounced", "complained", "unsubscribed")]
    for esp in ESPS
}
KINDS["resend"].remove("unsubscribed")


# --- machine opens, as each ESP reports them ----------------------------------------

#: A security scanner's user agent (Barracuda's link protection).
SCANNER_UA = "Mozilla/5.0 (compatible; Barracuda Sentinel)"


def machine_engagement(esp, recipient, metadata, event_id=None):
    """A machine's open (a click where the ESP's opens say nothing about the opener),
    marked the way the ESP's docs describe: SendGrid's ``sg_machine_open``, Mailgun's
    ``client-info.bot``, Brevo's ``unique_proxy_open``, Apple's prefetch user agent at
    Postmark; Resend's opens carry neither agent nor address, so a scanner's click."""
    kind = "clicked" if esp == "resend" else "opened"
    kwargs = {"event_id": event_id} if event_id else {}
    url, body, extra = ESPS[esp](kind, recipient, metadata, **kwargs)
    payload = json.loads(body)
    if esp == "sendgrid":
        payload[0]["sg_machine_open"] = True
    elif esp == "mailgun":  # the signature covers timestamp and token only
        payload["event-data"]["client-info"] = {"user-agent": "Mozilla/5.0", "bot": "apple"}
    elif esp == "postmark":
        payload["UserAgent"] = "Mozilla/5.0"
        payload["Geo"] = {"IP": "17.58.101.4"}
    elif esp == "brevo":
        payload["event"] = "unique_proxy_open"
    else:
        payload["data"]["click"]["userAgent"] = SCANNER_UA
    return url, json.dumps(payload), extra


def second_event_id(esp: str) -> str:
    """An event id other than each builder's default: a second event of the same kind."""
    return {
        "sendgrid": "sg-event-2",
        "mailgun": "ffffffffffffffffffffffffffffffff",
        "postmark": "4323372036854775808",
        "brevo": "2",
        "resend": "msg_other",
    }[esp]
