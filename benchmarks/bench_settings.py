"""Django settings for ``benchmarks/throughput.py`` (not for anything else).

Like ``example_shop.settings`` without the shop, plus django-post-office as the
reference. The orchestrator passes the database and batch size through environment
variables, so every worker process it spawns sees the same configuration.
"""

import os

import dj_database_url

SECRET_KEY = "benchmark-only-not-secret"
DEBUG = False  # DEBUG=True would keep every query in memory
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "polymorphic",
    "django_celery_beat",
    "anymail",
    "post_office",
    "postpurchase",
]

ROOT_URLCONF = "bench_urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {},
    },
]

_url = os.environ.get("BENCH_DATABASE_URL", "sqlite:////tmp/bench_postpurchase.sqlite3")
DATABASES = {"default": dj_database_url.parse(_url)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # As in example_shop/settings.py: WAL, IMMEDIATE transactions, wait for the writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 60,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский"), ("uk", "Українська")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
# The ESP-latency runs (throughput.py --esp postmark) send through Anymail's real
# Postmark backend to benchmarks/esp_server.py on 127.0.0.1.
_esp_url = os.environ.get("BENCH_ESP_URL")
if _esp_url:
    EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    ANYMAIL = {"POSTMARK_SERVER_TOKEN": "test-token", "POSTMARK_API_URL": _esp_url}
DEFAULT_FROM_EMAIL = "Backpack Shop <shop@example.com>"

POSTPURCHASE = {
    "SITE_URL": "https://shop.example.com",
    "MAIL_DIR": None,
    "EXECUTION": "inline",
    "BATCH_SIZE": int(os.environ.get("BENCH_BATCH_SIZE", "200")),
    "BRAND": {
        "name": "Backpack Shop",
        "logo_url": "",
        "primary_color": "#2d6a4f",
        "support_email": "help@example.com",
        "support_phone": "+7 800 555-35-35",
        "address": "Backpack Shop, 12 Lesnaya St., Moscow 125047",
        "social_links": [
            {"name": "Telegram", "url": "https://t.me/example"},
            {"name": "VK", "url": "https://vk.com/example"},
            {"name": "Instagram", "url": "https://instagram.com/example"},
        ],
    },
}
if os.environ.get("BENCH_SEND_CONCURRENCY"):  # only with throughput.py --concurrency
    POSTPURCHASE["SEND_CONCURRENCY"] = int(os.environ["BENCH_SEND_CONCURRENCY"])

# django-post-office, the reference: the same Anymail backend as the pipeline. BATCH_SIZE and
# THREADS_PER_PROCESS are set by throughput.py (see README.md for the choice).
POST_OFFICE = {
    "BACKENDS": {"default": EMAIL_BACKEND},
    "DEFAULT_PRIORITY": "medium",
    "BATCH_SIZE": int(os.environ.get("BENCH_PO_BATCH_SIZE", "1000")),
    "THREADS_PER_PROCESS": int(os.environ.get("BENCH_PO_THREADS", "1")),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "postpurchase": {"handlers": ["console"], "level": "WARNING"},
        "post_office": {"handlers": ["console"], "level": "WARNING"},
    },
}
