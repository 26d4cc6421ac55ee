"""Kubernaut's settings, all read from environment variables (see docs/configuration.md).

`make run` writes a git-ignored `.env` beside manage.py; its values fill in what the environment
does not set, so `manage.py` commands run beside `make run` reach the same database.
"""

import os
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from kubernaut.env import (
    env_bool,
    env_int,
    env_list,
    env_str,
    env_url,
    load_dotenv,
    parse_database_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# KUBERNAUT_ENV_FILE="" turns the file off (the test runner does, so tests see only their own).
load_dotenv(Path(os.environ.get("KUBERNAUT_ENV_FILE", BASE_DIR / ".env")))

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY (or SECRET_KEY_FILE) must be set: a long random string, "
        "for instance from `python -c 'import secrets; print(secrets.token_urlsafe(50))'`"
    )

# Encrypts cluster credentials in the database (kubernaut/crypto.py); derived from SECRET_KEY
# when unset.
KUBERNAUT_ENCRYPTION_KEY = env_str("KUBERNAUT_ENCRYPTION_KEY") or ""

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "audit",
    "accounts",
    "policies",
    "clusters",
    "teams",
    "releases",
    "locks",
    "deployments",
    "approvals",
    "delivery",
    "notifications",
    "maintenance",
    "sso",
    "metrics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "kubernaut.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "kubernaut.middleware.RequestSizeLimitMiddleware",
    "kubernaut.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.context.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "kubernaut.urls"
WSGI_APPLICATION = "kubernaut.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # `ago` and friends on every page without a {% load %} in each template.
            "builtins": ["kubernaut.templatetags.kubernaut"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": parse_database_url("DATABASE_URL", os.environ["DATABASE_URL"])}
else:
    # Empty values let libpq read PGHOST, PGPORT, PGUSER and PGPASSWORD itself.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("PGDATABASE", "kubernaut"),
        }
    }
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Debug pages and error reports mask every secret, including passwords inside URLs.
DEFAULT_EXCEPTION_REPORTER_FILTER = "kubernaut.error_reports.SecretSafeReporterFilter"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Passwords (local admins) first; single sign-on when configured (below, docs/sso.md).
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "sso.backends.OidcBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "static"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_FAILURE_VIEW = "kubernaut.views.csrf_failure"

# Requests larger than this are refused with 413 before anything reads them.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("KUBERNAUT_MAX_REQUEST_BYTES", 2 * 1024 * 1024, minimum=65536)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
# A release's template is limited well below the request limit: real manifests are a few KiB.
KUBERNAUT_MAX_TEMPLATE_BYTES = env_int("KUBERNAUT_MAX_TEMPLATE_BYTES", 256 * 1024, minimum=1024)

# The Kubernetes version whose schemas manifests are checked against before they are applied.
KUBERNAUT_SCHEMA_VERSION = env_str("KUBERNAUT_SCHEMA_VERSION", "1.32")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The token class comes first so that a request without credentials gets 401
        # (with WWW-Authenticate), not 403.
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["kubernaut.permissions.ModelPermissions"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's parsers, refusing text PostgreSQL cannot store (NUL, lone surrogates) with a 400.
    "DEFAULT_PARSER_CLASSES": [
        "kubernaut.parsers.JSONParser",
        "kubernaut.parsers.MultiPartParser",
        "kubernaut.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "kubernaut.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Kubernaut API",
    "DESCRIPTION": (
        "Register releases from CI and deploy them to Kubernetes. Authenticate with "
        "`Authorization: Token <key>` (a key from `manage.py create_api_token <username>`) "
        "or a browser session."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Assets come from drf-spectacular-sidecar, served by the project: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": f"/{STATIC_URL}favicon.svg",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1 (full JSON Schema) can say what attribute names may be (propertyNames); 3.0 cannot.
    "OAS_VERSION": "3.1.0",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        # The error answers every endpoint shares (400, 401, 403, 404, 413), in one place.
        "kubernaut.schema.add_error_responses",
    ],
}

# django-q2 runs deployments and maintenance on the same PostgreSQL (no Redis).
# Delivery is at-least-once: `timeout` stays below `retry` so a slow task is killed before it is
# handed to a second worker.
Q_CLUSTER = {
    "name": "kubernaut",
    "orm": "default",
    "workers": env_int("KUBERNAUT_WORKERS", 2, minimum=1),
    # Longer than the longest deployment (30 minutes) so a rollout is never cut off mid-way.
    # A deployment whose worker died does not wait for `retry`: its heartbeat stops, and the
    # check below queues it again (deployments/services.py).
    "timeout": env_int("KUBERNAUT_TASK_TIMEOUT", 1900, minimum=5),
    "retry": env_int("KUBERNAUT_TASK_RETRY", 2000, minimum=6),
    "max_attempts": 3,
    # django-q's pusher takes tasks ahead of its workers (workers² by default) and holds them
    # locked: behind long rollouts they waited while another qcluster's workers were idle. One
    # at most; a deployment that still waits so is queued again by the check (services.py).
    "queue_limit": 1,
    "save_limit": 1000,
    "catch_up": False,
    # How long the broker sleeps when it finds the queue empty: the longest a queued deployment
    # waits for a qcluster to see it. Each poll is two small queries (the connection's
    # health check and a SELECT of the queue table, empty but for queued tasks): an idle qcluster
    # made 24 queries/s in all at 0.1 s, 7 at 0.5 s (docs/performance.md, "Deploy latency").
    "poll": env_int("KUBERNAUT_QUEUE_POLL_MS", 100, minimum=20) / 1000,
}
if Q_CLUSTER["timeout"] >= Q_CLUSTER["retry"]:
    raise ImproperlyConfigured("KUBERNAUT_TASK_TIMEOUT must be smaller than KUBERNAUT_TASK_RETRY")

# A worker following a deployment writes a heartbeat this often (which is also how soon it
# notices a cancel); the check that runs every minute queues a deployment whose heartbeat is older
# than the second figure again, so a live worker resumes it (docs/reliability.md).
KUBERNAUT_HEARTBEAT_SECONDS = env_int("KUBERNAUT_HEARTBEAT_SECONDS", 2, minimum=1)
KUBERNAUT_HEARTBEAT_STALE_SECONDS = env_int("KUBERNAUT_HEARTBEAT_STALE_SECONDS", 20, minimum=3)
if KUBERNAUT_HEARTBEAT_STALE_SECONDS < 3 * KUBERNAUT_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "KUBERNAUT_HEARTBEAT_STALE_SECONDS must be at least three KUBERNAUT_HEARTBEAT_SECONDS, "
        "or a worker that is merely slow looks dead"
    )

# A deployment to a namespace that requires approvals (docs/approvals.md) ends `expired` when it
# is not approved within this many hours of being asked for.
KUBERNAUT_APPROVAL_TIMEOUT_HOURS = env_int("KUBERNAUT_APPROVAL_TIMEOUT_HOURS", 24, minimum=1)

# Webhooks (docs/notifications.md). Deliveries to loopback, private, link-local and other
# non-public addresses are refused (checked on the address the host resolves to when sending)
# unless this is true: a webhook must not become a way to reach services inside the network.
KUBERNAUT_WEBHOOK_ALLOW_PRIVATE = env_bool("KUBERNAUT_WEBHOOK_ALLOW_PRIVATE", default=False)
# Where people reach Kubernaut (https://kubernaut.example): notifications link to its pages.
# Empty: messages carry no links.
KUBERNAUT_BASE_URL = (env_str("KUBERNAUT_BASE_URL") or "").rstrip("/")
if KUBERNAUT_BASE_URL and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", KUBERNAUT_BASE_URL):
    raise ImproperlyConfigured(
        "KUBERNAUT_BASE_URL must be the address people open Kubernaut at, like "
        f"https://kubernaut.example, got {KUBERNAUT_BASE_URL!r}"
    )

# How long one rendering of the overview's grid serves everyone (0: render every time).
KUBERNAUT_OVERVIEW_CACHE_SECONDS = env_int("KUBERNAUT_OVERVIEW_CACHE_SECONDS", 2, minimum=0)
# Live state (docs/live-state.md): how long the pages wait for all clusters together, in
# milliseconds, and how long one reading of a deployment's live objects is reused (0: never).
KUBERNAUT_LIVE_TIMEOUT_MS = env_int("KUBERNAUT_LIVE_TIMEOUT_MS", 1500, minimum=100)
KUBERNAUT_LIVE_CACHE_SECONDS = env_int("KUBERNAUT_LIVE_CACHE_SECONDS", 10, minimum=0)
# How long the DORA metrics counted for one set of namespaces serve everyone (0: count every time).
KUBERNAUT_METRICS_CACHE_SECONDS = env_int("KUBERNAUT_METRICS_CACHE_SECONDS", 60, minimum=0)

# Scheduled ANALYZE (maintenance/services.py): how often, and how many dead rows (and more than
# 5% of the live ones) make a table get VACUUM (ANALYZE) instead.
KUBERNAUT_ANALYZE_MINUTES = env_int("KUBERNAUT_ANALYZE_MINUTES", 60, minimum=1)
KUBERNAUT_VACUUM_DEAD_ROWS = env_int("KUBERNAUT_VACUUM_DEAD_ROWS", 10000, minimum=1)

# Single sign-on with OpenID Connect (docs/sso.md); off while the issuer is unset. Password
# sign-in stays for local admins either way.
KUBERNAUT_OIDC_ISSUER = env_url("KUBERNAUT_OIDC_ISSUER")
KUBERNAUT_OIDC_CLIENT_ID = env_str("KUBERNAUT_OIDC_CLIENT_ID") or ""
KUBERNAUT_OIDC_CLIENT_SECRET = env_str("KUBERNAUT_OIDC_CLIENT_SECRET") or ""
KUBERNAUT_OIDC_SCOPES = env_list("KUBERNAUT_OIDC_SCOPES", ["openid", "profile", "email"])
KUBERNAUT_OIDC_GROUPS_CLAIM = env_str("KUBERNAUT_OIDC_GROUPS_CLAIM") or "groups"
KUBERNAUT_OIDC_BUTTON_LABEL = env_str("KUBERNAUT_OIDC_BUTTON_LABEL") or "single sign-on"
# A Django group every single sign-on user is put in, for the model permissions pages and the API
# ask for (view releases, deployments...); roles on namespaces come from teams. Empty: none.
KUBERNAUT_OIDC_USER_GROUP = env_str("KUBERNAUT_OIDC_USER_GROUP") or ""
# Where the provider sends people back; by default /sso/callback on the address the browser used
# (set it when a proxy in front changes the scheme or host).
KUBERNAUT_OIDC_REDIRECT_URI = env_url("KUBERNAUT_OIDC_REDIRECT_URI")
if KUBERNAUT_OIDC_ISSUER and not KUBERNAUT_OIDC_CLIENT_ID:
    raise ImproperlyConfigured(
        "KUBERNAUT_OIDC_CLIENT_ID must be set when KUBERNAUT_OIDC_ISSUER is: the client id the "
        "identity provider gave Kubernaut (docs/sso.md)"
    )
if KUBERNAUT_OIDC_ISSUER and "openid" not in KUBERNAUT_OIDC_SCOPES:
    raise ImproperlyConfigured("KUBERNAUT_OIDC_SCOPES must include openid")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO").upper()},
}
