"""Settings of the example shop: the demo and the project the test suite runs against.

Defaults need nothing installed: SQLite in ``var/``, an in-memory Celery broker and
postpurchase running its work in-process. Environment variables switch to a real
stack: ``DATABASE_URL``, ``CELERY_BROKER_URL``, ``POSTPURCHASE_EXECUTION=celery``.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
# Where the SQLite database and the demo's mail copies live (override for a throwaway run).
VAR_DIR = Path(os.environ.get("EXAMPLE_SHOP_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # SQLite needs the folder before the first connection.

SECRET_KEY = os.environ.get("SECRET_KEY", "django-insecure-example-shop-dev-key-change-me")
DEBUG = os.environ.get("DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "polymorphic",
    "django_celery_beat",
    "anymail",
    "postpurchase",
    "example_shop.shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_shop.urls"
WSGI_APPLICATION = "example_shop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "example_shop.shop.context_processors.shop",
            ],
        },
    },
]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {
                # The demo runs the scheduler thread next to runserver: WAL lets readers
                # and the writer overlap, IMMEDIATE avoids lock-upgrade deadlocks, and
                # the timeout waits for the other writer instead of failing at once.
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # Tests use a file too, not Django's in-memory default: its shared cache
            # fails a second thread's write at once ("table is locked") instead of
            # waiting, unlike the file database a shop runs the embedded mode on.
            "TEST": {"NAME": str(VAR_DIR / "test-db.sqlite3")},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский"), ("uk", "Українська")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

LOGIN_URL = "shop:login"
LOGIN_REDIRECT_URL = "shop:home"
LOGOUT_REDIRECT_URL = "shop:home"

# Mail goes through Anymail so postpurchase sees ESP statuses; the test backend keeps
# messages in memory, and MAIL_DIR below also writes every email to disk for viewing.
EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
DEFAULT_FROM_EMAIL = "Backpack Shop <shop@example.com>"

SHOP_CURRENCY = "RUB"

POSTPURCHASE = {
    "ADAPTER": "example_shop.shop.adapter.ShopAdapter",
    "SITE_URL": os.environ.get("SITE_URL", "http://127.0.0.1:8000"),
    "MAIL_DIR": VAR_DIR / "mail",
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
    "EXECUTION": os.environ.get("POSTPURCHASE_EXECUTION", "inline"),
    # Who hears about unhappy customers (the NPS detractor alert), and where happy ones
    # are asked to leave a public review.
    "STAFF_EMAILS": ["support@example.com"],
    "REVIEW_PLATFORMS": [
        {"name": "Yandex Maps", "url": "https://yandex.ru/maps/"},
        {"name": "Google Maps", "url": "https://maps.google.com/"},
    ],
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "postpurchase": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
        "example_shop": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    },
}
