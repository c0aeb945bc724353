"""Settings of a shop that does not install Celery or django-celery-beat.

The database file and EXECUTION come from the environment (NOCELERY_DB, NOCELERY_EXECUTION).
"""

import os

SECRET_KEY = "nocelery-test-key"
DEBUG = True
ALLOWED_HOSTS = ["testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "polymorphic",
    "anymail",
    "postpurchase",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.nocelery.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["NOCELERY_DB"],
        "OPTIONS": {"timeout": 20},
    }
}

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский"), ("uk", "Українська")]

EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
DEFAULT_FROM_EMAIL = "shop@example.com"

POSTPURCHASE = {
    "ADAPTER": "tests.core.adapters.FakeAdapter",
    "SITE_URL": "https://shop.example.com",
    "BRAND": {"address": "Test Shop, 1 Main St., Springfield 12345"},
    "EXECUTION": os.environ.get("NOCELERY_EXECUTION", "inline"),
}
