"""Referloop settings: one module, configured through REFERLOOP_* environment variables.

Without any environment it is a safe local set-up: SQLite under var/, loopback hosts only.
REFERLOOP_ENV=production demands a real secret key and allowed hosts and turns on every
transport-security setting, so `referloop check --deploy --fail-level WARNING` passes.
Any variable may instead be read from a file named by VAR_FILE (for container secrets).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read the file ({exc})") from None
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name, "true" if default else "false").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = env_str(name, str(default)).strip()
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


ENVIRONMENT = env_str("REFERLOOP_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured("REFERLOOP_ENV must be 'development' or 'production'")
PRODUCTION = ENVIRONMENT == "production"

VAR_DIR = Path(env_str("REFERLOOP_VAR_DIR", str(BASE_DIR / "var")))

# --- secrets -------------------------------------------------------------------------------
_DEV_SECRET = "development-only-secret-key-never-use-in-production-0123456789abcdef"  # noqa: S105
SECRET_KEY = env_str("REFERLOOP_SECRET_KEY", "" if PRODUCTION else _DEV_SECRET)
if PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY == _DEV_SECRET):
    raise ImproperlyConfigured("REFERLOOP_SECRET_KEY must be set to 50+ random characters")

# Fernet keys for client fields encrypted at rest, newest first (older ones still decrypt, so
# keys rotate without a rewrite). Development derives one from the secret key.
FIELD_ENCRYPTION_KEYS = env_list("REFERLOOP_FIELD_KEYS")
if PRODUCTION and not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("REFERLOOP_FIELD_KEYS must list at least one Fernet key")
# Key for the keyed hashes (blind indexes) that allow exact lookup of encrypted values.
FIELD_HASH_KEY = env_str("REFERLOOP_HASH_KEY", "" if PRODUCTION else SECRET_KEY)
if PRODUCTION and len(FIELD_HASH_KEY) < 32:
    raise ImproperlyConfigured("REFERLOOP_HASH_KEY must be set to 32+ random characters")

DEBUG = env_bool("REFERLOOP_DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("REFERLOOP_DEBUG cannot be on in production")

ALLOWED_HOSTS = env_list(
    "REFERLOOP_ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1]"
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("REFERLOOP_ALLOWED_HOSTS must name the host(s) Referloop serves")
CSRF_TRUSTED_ORIGINS = env_list("REFERLOOP_CSRF_TRUSTED_ORIGINS")
# Absolute base for links in e-mails (never derived from the request's Host header).
BASE_URL = env_str("REFERLOOP_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- applications ----------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "django_tasks_db",
    "referloop.core",
    "referloop.directory",
    "referloop.clients",
    "referloop.referrals",
    "referloop.partners",
    "referloop.stays",
    "referloop.intake",
    "referloop.reports",
    "referloop.worklist",
    "referloop.fhir",
    "referloop.demo",  # `referloop demo`: the demo network (uses every app, so it comes last)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before the timeout middleware, which tells the person why they were signed out.
    "django.contrib.messages.middleware.MessageMiddleware",
    "referloop.core.middleware.SessionTimeoutMiddleware",
    "referloop.core.middleware.AgencyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "referloop.urls"
WSGI_APPLICATION = "referloop.wsgi.application"

FORM_RENDERER = "referloop.core.renderers.FormRenderer"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "referloop" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "referloop.core.context_processors.shell",
            ],
        },
    },
]

# --- database --------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'referloop.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work while the worker writes; IMMEDIATE avoids lock-upgrade deadlocks.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        _sqlite_path = Path(DATABASES["default"]["NAME"])
        _sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        # Tests use a file next to it (one per test run), not Django's default shared-cache
        # in-memory database: that one has table locks which fail at once ("database table is
        # locked") instead of waiting, so tests of concurrent workers would not see production's
        # behaviour (WAL, busy timeout).
        DATABASES["default"]["TEST"] = {
            "NAME": str(_sqlite_path.with_name(f"test_{os.getpid()}_{_sqlite_path.name}"))
        }
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Short OLTP queries on a small server: parallel plans and JIT compilation cost more than
    # they save (a 3 ms directory count took 20 ms with parallel workers, one query 70 ms to JIT).
    # The working set sits in memory, where a random read costs about what a sequential one
    # does: at the default 4.0 the planner scanned 50,000 services to join 6,000 (38 ms, against
    # 21 ms through the index).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        "-c jit=off -c max_parallel_workers_per_gather=0 -c random_page_cost=1.1"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- users, passwords, sessions ----------------------------------------------------------------
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "worklist:index"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Length and a breached/common-password check, no composition rules, no forced rotation
# (NIST SP 800-63B; ASVS 6.2).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "referloop.core.passwords.MaximumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_IDLE_TIMEOUT = timedelta(minutes=env_int("REFERLOOP_SESSION_IDLE_MINUTES", 15))
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=env_int("REFERLOOP_SESSION_MAX_HOURS", 12))
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_TIMEOUT.total_seconds())
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
LOGIN_FAILURE_LIMIT = env_int("REFERLOOP_LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT = timedelta(minutes=env_int("REFERLOOP_LOGIN_LOCKOUT_MINUTES", 15))

# --- security headers ------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("REFERLOOP_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = 63072000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env_bool("REFERLOOP_BEHIND_PROXY", False):
        # Only when a trusted reverse proxy terminates TLS and sets this header itself.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- internationalisation --------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AGENCY_TIME_ZONE = env_str("REFERLOOP_DEFAULT_TIME_ZONE", "America/New_York")

# --- static files --------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "referloop" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it; finders serve files

# --- e-mail ------------------------------------------------------------------------------------
SMTP_HOST = env_str("REFERLOOP_EMAIL_HOST")
DEFAULT_FROM_EMAIL = env_str("REFERLOOP_FROM_EMAIL", "Referloop <referloop@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Without an SMTP host nothing leaves the machine: messages stay in the outbox for administrators.
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": SMTP_HOST,
            "port": env_int("REFERLOOP_EMAIL_PORT", 25),
            "username": env_str("REFERLOOP_EMAIL_USER"),
            "password": env_str("REFERLOOP_EMAIL_PASSWORD"),
            "use_tls": env_bool("REFERLOOP_EMAIL_TLS", False),
            "timeout": 20,
        },
    }
    if SMTP_HOST
    else {"BACKEND": "referloop.core.mail.NoSmtpBackend"}
}

# --- background work ---------------------------------------------------------------------------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Periodic sweeps run by `referloop worker`: (dotted path of a callable, interval in seconds).
# Listed here explicitly so what runs in the background is visible in one place.
REFERLOOP_SWEEPS = [
    ("referloop.core.sweeps.purge_expired_sessions", 3600),
    ("referloop.core.sweeps.purge_stale_login_failures", 3600),
    ("referloop.core.sweeps.prune_finished_tasks", 86400),
    # API Idempotency-Key answers past their 24 hours.
    ("referloop.core.sweeps.purge_expired_idempotency_keys", 3600),
    # The public directory export (/directory/export/services.json and .csv).
    ("referloop.directory.publish.directory_publish", 900),
    # Top referrers from the referrals received over the policy's rolling window.
    ("referloop.partners.sweeps.top_referrers_refresh", 3600),
    # Daily digests (worklist + escalations), once per person per day after 07:00 agency time.
    ("referloop.worklist.digests.digests_send", 900),
    # The weekly review, to program leads of agencies that opt in, on the week's first working day.
    ("referloop.reports.mailing.weekly_reviews_send", 900),
    # Last, so what the sweeps above queued goes out in the same pass. Nothing is sent while no
    # SMTP host is configured (the mail waits on the Outbox page).
    ("referloop.core.outbox.outbox_deliver", 15),
]
WORKER_IDLE_SECONDS = env_int("REFERLOOP_WORKER_INTERVAL", 5)

# The partner reply page (/r/<token>): per window, answers allowed on one link and from one
# address, and unknown links one address may try (then 429 until the window moves on).
REPLY_RATE_WINDOW = timedelta(minutes=10)
REPLY_ANSWERS_PER_LINK = env_int("REFERLOOP_REPLY_ANSWERS_PER_LINK", 30)
REPLY_ANSWERS_PER_IP = env_int("REFERLOOP_REPLY_ANSWERS_PER_IP", 120)
REPLY_UNKNOWN_LINKS_PER_IP = env_int("REFERLOOP_REPLY_UNKNOWN_LINKS_PER_IP", 60)
# The public "refer someone to us" page (/refer/<agency>/): referrals one address may send.
REFERRAL_FORM_WINDOW = timedelta(hours=1)
REFERRAL_FORM_PER_IP = env_int("REFERLOOP_REFERRAL_FORM_PER_IP", 10)

# --- import / export ---------------------------------------------------------------------------
# `referloop import KIND PATH` and `referloop export KIND PATH`: KIND -> the dotted path of its
# handler (see referloop/core/management/dispatch.py), so core never imports the apps.
REFERLOOP_IMPORTERS = {
    "hsds": "referloop.directory.hsds.cli.import_command",
    "referrals": "referloop.referrals.sheet.cli.import_command",
    "capacity": "referloop.directory.capacity_feed.cli.import_command",
    "ics": "referloop.partners.ics_import.cli.import_command",
    "hubspot": "referloop.partners.hubspot.cli.import_command",
    "fhir": "referloop.fhir.cli.import_command",
}
REFERLOOP_EXPORTERS = {
    "hsds": "referloop.directory.hsds.cli.export_command",
    "referrals": "referloop.referrals.sheet.cli.export_command",
    "hubspot": "referloop.partners.hubspot.cli.export_command",
    "fhir": "referloop.fhir.cli.export_command",
}

# --- API ---------------------------------------------------------------------------------------
NINJA_PAGINATION_CLASS = "referloop.core.pagination.CursorPagination"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("REFERLOOP_LOG_LEVEL", "WARNING")},
    "loggers": {"referloop": {"level": env_str("REFERLOOP_LOG_LEVEL", "INFO")}},
}
