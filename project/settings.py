"""Pipeline settings: read top to bottom; everything comes from the environment.

Unset variables mean the embedded default: SQLite, the in-memory channel layer and an in-process Dramatiq
worker. Production sets DATABASE_URL (Postgres) and REDIS_URL (channels-redis + the Dramatiq broker).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from project.broker import broker_settings

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    return [item.strip() for item in value.split(",") if item.strip()] or default


# --- Core -----------------------------------------------------------------------------------------
# Development by default, production as soon as it is pointed at real services: a deploy that forgets
# DEBUG=false must not run with debug pages and the public development key.
DEBUG = env_bool("DEBUG", not (os.environ.get("DATABASE_URL") or os.environ.get("REDIS_URL")))
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "embedded-development-key-not-for-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
VAR_DIR = Path(os.environ.get("PIPELINE_VAR_DIR", BASE_DIR / "var"))

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "django_dramatiq",
    "simple_history",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "crm",
    "realtime",
    "workers",
    "rest_framework",
    "drf_spectacular",
    "api",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "crm.middleware.UserTimeZoneMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it turns a locked-out login into the 429 page
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.context_processors.roles",
            ],
        },
    }
]

# --- HTTPS and the browser's own defences ---------------------------------------------------------
# With DEBUG off: cookies only over HTTPS, HSTS, and plain HTTP redirected. Behind a proxy that terminates TLS
# set SECURE_SSL_REDIRECT=false and SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto (docs/security.md).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe the processes over plain HTTP
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Asking browsers to preload HSTS binds the whole domain for months: the domain owner's decision, not ours.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + os.environ["SECURE_PROXY_SSL_HEADER"].upper().replace("-", "_"),
        "https",
    )
SESSION_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# In every mode, development included, so a violation shows while working: no inline script or style, no
# eval; sockets to this site only ('self' covers ws:/wss: to the page's own host and port).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Database: SQLite unless DATABASE_URL ---------------------------------------------------------
DATABASES = {"default": dj_database_url.config(default=f"sqlite:///{VAR_DIR / 'pipeline.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI every request runs in its own thread, so CONN_MAX_AGE reuses nothing: each request would
    # open a connection (about 6 ms). A pool shared by the process's threads does.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Checked before use: after a database restart the pool drops dead connections instead of failing with
    # them; a request waits at most DB_POOL_TIMEOUT seconds for one, then answers 503 (project/errors.py).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": int(os.environ.get("DB_POOL_SIZE", "20")),
        "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "5")),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so two moves cannot both read the same
    # neighbours and then collide; WAL lets readers (the board) run while a move writes.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # SQLite has no covering indexes: the dashboard's INCLUDE columns are a Postgres speed-up only.
    SILENCED_SYSTEM_CHECKS.append("models.W040")
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, Dramatiq broker and cache when REDIS_URL is set ------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: a group_send is one PUBLISH that each ASGI process receives once and fans out locally.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Several hosts shard the layer's channels and groups (docs/deploy.md); the same list everywhere.
            "CONFIG": {
                "hosts": env_list("CHANNEL_REDIS_URLS", [REDIS_URL]),
                "prefix": os.environ.get("CHANNEL_PREFIX", "pipeline"),
            },
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DRAMATIQ_BROKER = broker_settings(REDIS_URL)
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]
# Embedded mode runs the Dramatiq worker and the scheduler inside the web process.
EMBEDDED_WORKER = env_bool("EMBEDDED_WORKER", not REDIS_URL)
SCORE_COALESCE_MS = 1500  # lead changes arriving within this window are scored in one run

# --- Auth -----------------------------------------------------------------------------------------
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/leads/kanban/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# Login throttling (django-axes): 10 failures for a username, or from one address, lock that username or
# address out for 15 minutes (429 with the reason); a success resets the count. Attempts are kept in the
# mode's shared store: Redis when it is there (every web process sees them), else the database.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Loads the user with their profile (time zone) in the one query the session's user costs anyway.
    "crm.auth.ProfileBackend",
]
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HANDLER = (
    "axes.handlers.cache.AxesCacheHandler"
    if os.environ.get("REDIS_URL")
    else "axes.handlers.database.AxesDatabaseHandler"
)
AXES_VERBOSE = False  # pipeline.security logs each failure and lockout once, without secrets
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# --- I18N -----------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/htmx-ext-ws", NODE_MODULES / "htmx-ext-ws" / "dist"),
    ("vendor/sortablejs", NODE_MODULES / "sortablejs"),
    ("vendor/chartjs", NODE_MODULES / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"
MODEL_DIR = VAR_DIR / "models"

# --- Email: files in var/outbox unless EMAIL_URL / EMAIL_HOST -------------------------------------
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Pipeline <pipeline@localhost>")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "outbox"
# Shorter than the reminder job's claim lease (crm.reminders.LEASE), so a hung server cannot outlast it.
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))
# Absolute links in emails and invites (and the invites' UID domain).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")

# --- Board tuning ---------------------------------------------------------------------------------
BOARD_PAGE_SIZE = 50  # cards a column shows before "load more"
BOARD_CATCHUP_LIMIT = 200  # missed events replayed on reconnect; more than this reloads the board
BOARD_EVENT_RETENTION = 5000  # events kept for catch-up
BOARD_GAP_GRACE_SECONDS = 0.3  # how long a socket waits for a frame that concurrent moves sent out of order
# Every socket re-reads its session this often (logout, deactivation and role changes close it at once).
SOCKET_SESSION_RECHECK_SECONDS = 60
# A fresh database gets the default pipeline from a migration (crm/first_run.py); the test suite turns this
# off, since its tests arrange the stages they need.
FIRST_RUN_STAGES = True
# Who is on the board is sent at most this often, and only when it changed (realtime/presence.py).
PRESENCE_INTERVAL_SECONDS = float(os.environ.get("PRESENCE_INTERVAL_SECONDS", "1.0"))

# --- Analytics (crm/analytics.py) -----------------------------------------------------------------
# Heatmap cells against the team's overall conversion rate: green at or above 1.2x, red below 0.8x.
ANALYTICS_HEATMAP_GREEN_AT = float(os.environ.get("ANALYTICS_HEATMAP_GREEN_AT", "1.2"))
ANALYTICS_HEATMAP_RED_BELOW = float(os.environ.get("ANALYTICS_HEATMAP_RED_BELOW", "0.8"))
ANALYTICS_HEATMAP_MIN_LEADS = 20  # fewer leads in a cell: grey, with the count
ANALYTICS_MIN_TEST_LEADS = 30  # a source (and the rest) needs this many leads before advice is given
ANALYTICS_SIGNIFICANCE = 0.05  # two-proportion z-test, two-sided
ANALYTICS_SNAPSHOT_RETENTION_DAYS = 400  # AgentPerformance rows kept
DASHBOARD_REFRESH_SECONDS = 1.0  # a dashboard page refreshes at most this often, however busy the team

# --- REST API and webhooks (api/, webhooks/) --------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.HashedTokenAuthentication",
        # The browsable docs run in a logged-in browser; DRF enforces CSRF on it.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Cursor",
    "PAGE_SIZE": 50,
}
# Requests per token (or per address without one); read per request, so tests can lower them.
API_THROTTLE_RATES = {
    "token": os.environ.get("API_RATE", "1200/min"),
    "anon": os.environ.get("API_ANON_RATE", "60/min"),
    "login": os.environ.get("API_LOGIN_RATE", "10/min"),
}
API_IDEMPOTENCY_HOURS = 24  # how long a POST's Idempotency-Key replays its first answer
SPECTACULAR_SETTINGS = {
    "TITLE": "Pipeline API",
    "DESCRIPTION": (
        "Leads, interactions, follow-ups, snoozes, analytics, stages, sources, users and webhooks. "
        "See docs/api.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI from the installed sidecar package, not a CDN: the docs work offline and under the CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Named once: an interaction's kind appears as `kind` and as a completed follow-up's `log_kind`.
    "ENUM_NAME_OVERRIDES": {
        "InteractionKindEnum": "crm.models.Interaction.Kind",
        "StageKindEnum": "crm.models.Stage.Kind",
    },
}
# Webhook targets on private, loopback or link-local addresses are refused in production (a webhook must not
# become a way into the internal network); development and tests deliver to local receivers.
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", DEBUG)
WEBHOOK_TIMEOUT = float(os.environ.get("WEBHOOK_TIMEOUT", "5"))  # seconds to connect, and to read
WEBHOOK_DISABLE_AFTER = 20  # consecutive failed attempts before an endpoint is disabled
# Finished deliveries stay in the endpoints' logs this long; the daily prune_records job deletes older ones
# (with Idempotency-Keys past API_IDEMPOTENCY_HOURS, which replay nothing any more).
WEBHOOK_DELIVERY_RETENTION_DAYS = int(os.environ.get("WEBHOOK_DELIVERY_RETENTION_DAYS", "30"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
