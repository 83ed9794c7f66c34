"""One env-driven settings module. SQLite and in-process Celery by default; PostgreSQL and a
real broker when DATABASE_URL / CELERY_BROKER_URL say so."""

import os
from datetime import timedelta
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlsplit

import dj_database_url
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


DEBUG = envbool("DEBUG", False)
# The fallback key is only good for local development; production must set SECRET_KEY (the
# "django-insecure-" prefix makes `manage.py check --deploy` refuse the fallback).
SECRET_KEY = os.environ.get("SECRET_KEY", "django-insecure-dev-key-change-me-" + "x" * 30)
ALLOWED_HOSTS = [
    h for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",") if h
]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Its abstract key model is what accounts.APIKey builds on; the app must be installed.
    "rest_framework_api_key",
    "django_htmx",
    # Sign-up, email verification, password reset and change, email change, two-factor sign-in.
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "accounts",
    "escrows",
    "webhooks",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "escrow_site.urls"
WSGI_APPLICATION = "escrow_site.wsgi.application"

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
                "notifications.context_processors.unread_notifications",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
    )
}
# The hot statements (escrows/hot.py: the escrow lock, milestones, API-key lookup, list pages,
# ledger posting, event insert, release/close updates) run compiled once per process on
# PostgreSQL. Off (0): each runs as the plain ORM it stands for, with the same results.
HOT_STATEMENTS = envbool("HOT_STATEMENTS", True)
# ... and prepared: parsed and planned once per pooled connection. Off (0) behind a pooler that
# cannot keep prepared statements (pgbouncer before 1.21 in transaction mode).
DB_PREPARE_HOT = HOT_STATEMENTS and envbool("DB_PREPARE_HOT", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's own psycopg 3 pool: one connection per request is what cut throughput 3x.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": envint("DB_POOL_MIN", 2),
        "max_size": envint("DB_POOL_MAX", 10),
        "timeout": envint("DB_POOL_TIMEOUT", 10),
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Server-side binding for every statement Django sends (off: Django's default, client-side
    # binding, simple protocol). It prepares nothing by itself: Django turns psycopg's automatic
    # preparing off unless OPTIONS sets prepare_threshold (DB_PREPARE_THRESHOLD below).
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = envbool("DB_SERVER_SIDE_BINDING", False)
    if DB_PREPARE_HOT or os.environ.get("DB_PREPARE_THRESHOLD"):
        # psycopg prepares nothing, not even on request, while prepare_threshold is None; the
        # hot statements ask for it (prepare=True). Automatic preparing after N uses applies
        # only to server-side binding cursors; by default N is out of reach.
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = envint("DB_PREPARE_THRESHOLD", 2**31 - 1)
    if (
        DB_PREPARE_HOT
        and envbool("DB_GENERIC_PLANS", True)
        and not DATABASES["default"]["OPTIONS"]["server_side_binding"]
    ):
        # Generic plans for the prepared statements: PostgreSQL otherwise keeps planning one
        # afresh on every call when its generic cost estimate looks higher than a custom plan's,
        # as it did for the ledger posting (arrays of unknown length): about 0.1 ms of database
        # CPU per confirm, measured in process. Every prepared statement
        # here is a key or index lookup whose generic plan is that lookup. With client-side
        # binding nothing else Django sends is a prepared statement, so nothing else changes.
        # DB_GENERIC_PLANS=0 leaves the choice to PostgreSQL.
        # libpq's `options` replaces PGOPTIONS, so an operator's PGOPTIONS is carried over.
        options = DATABASES["default"]["OPTIONS"].get("options") or os.environ.get("PGOPTIONS", "")
        generic = "-c plan_cache_mode=force_generic_plan"
        DATABASES["default"]["OPTIONS"]["options"] = f"{options} {generic}".strip()
else:
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Failed logins per (client IP, email), per email from any address, and per client IP before
# logins for them are refused for LOGIN_LOCKOUT_SECONDS (accounts/throttle.py; counters in the
# cache below). A password reset by email lifts an account's lock.
AUTHENTICATION_BACKENDS = ["accounts.throttle.ThrottledModelBackend"]
LOGIN_FAILURES_PER_ACCOUNT = envint("LOGIN_FAILURES_PER_ACCOUNT", 5)
LOGIN_FAILURES_PER_ACCOUNT_ANY_ADDRESS = envint("LOGIN_FAILURES_PER_ACCOUNT_ANY_ADDRESS", 10)
LOGIN_FAILURES_PER_IP = envint("LOGIN_FAILURES_PER_IP", 30)
LOGIN_LOCKOUT_SECONDS = envint("LOGIN_LOCKOUT_SECONDS", 15 * 60)

# Accounts (django-allauth): people sign in by email and password; a new account verifies its
# email with a code mailed to it before it can do anything, and a login from an address not yet
# verified asks for the code again. Two-factor sign-in: an authenticator app (TOTP) with recovery
# codes. allauth's own failed-login limit guards the two-factor codes; the password's limits are
# the ones above (the adapter leaves them to the authentication backend). The admin's login is
# this sign-in page (accounts/admin.py).
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {
    "login": "accounts.forms.EmailLoginForm",
    "signup": "accounts.forms.SignUpForm",
    "reset_password": "accounts.forms.PasswordResetRequestForm",
    "reset_password_from_key": "accounts.forms.NewPasswordForm",
    "change_password": "accounts.forms.ChangePasswordForm",
    "set_password": "accounts.forms.SetPasswordForm",
    "add_email": "accounts.forms.AddEmailForm",
    "change_email": "accounts.forms.ChangeEmailForm",
    "confirm_email_verification_code": "accounts.forms.EmailCodeForm",
    "reauthenticate": "accounts.forms.ReauthenticateForm",
}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = True
# A new email replaces the old one once the code sent to it is entered.
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
# Changing the email or two-factor sign-in asks for the password again unless it was given in
# the last few minutes.
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_SESSION_REMEMBER = True
# The reset page reads the same for any email and mails nothing to an address without an account.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
# The owner hears of every change to their password, email and two-factor sign-in.
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "Milestone Escrow: "
ACCOUNT_LOGOUT_REDIRECT_URL = "login"
MFA_ADAPTER = "accounts.adapter.MFAAdapter"
MFA_FORMS = {
    "authenticate": "accounts.forms.TwoFactorCodeForm",
    "reauthenticate": "accounts.forms.TwoFactorReauthenticateForm",
    "activate_totp": "accounts.forms.ActivateTwoFactorForm",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Milestone Escrow"
# A code from the 30 seconds before or after still counts (a phone's clock drifts); each code
# works once.
MFA_TOTP_TOLERANCE = 1

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or envbool("PLAIN_STATIC", False)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Security: strict when not DEBUG; HTTPS-only cookies unless explicitly running plain HTTP.
SECURE_HTTPS = envbool("SECURE_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
# Production behind TLS sets SECURE_SSL_REDIRECT=1 (or lets its proxy redirect); off by default
# so a plain-HTTP API client of a test deployment is not bounced. The health check is exempt.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000 if SECURE_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HTTPS
SECURE_HSTS_PRELOAD = SECURE_HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response: scripts and styles come only from our own static
# files (no inline script or style, no eval), nothing may frame a page, forms post only to us.
# Pico draws its form icons as data: SVGs.
SECURE_CSP: dict[str, list[str]] = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
# The API docs pages (Swagger UI, Redoc) style themselves inline, Redoc runs its search in a
# blob: worker and shows its maker's logo from its CDN; their scripts still come only from our
# static files.
API_DOCS_CSP: dict[str, list[str]] = {
    **SECURE_CSP,
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "https://cdn.redoc.ly"],
    "worker-src": [CSP.SELF, "blob:"],
}

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://localhost//")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
# Without a broker, tasks run in-process at commit time, so the embedded default needs no worker.
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", "CELERY_BROKER_URL" not in os.environ)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
# A request hands its task over after the commit and must not wait on a broker that is down or
# silent (escrows/broker.py): one connection attempt (max_retries 0; workers reconnect on their
# own schedule), each connect and command bounded by this many seconds (socket timeouts, Redis;
# the connection timeout for other brokers). What a request could not send, process_due sends.
_BROKER_TIMEOUT = float(os.environ.get("CELERY_BROKER_TIMEOUT_SECONDS", "1"))
CELERY_BROKER_CONNECTION_TIMEOUT = _BROKER_TIMEOUT
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task whose worker died unacknowledged is handed out again after this long (Redis broker).
    "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 3600),
    "max_retries": 0,
    "socket_connect_timeout": _BROKER_TIMEOUT,
    "socket_timeout": _BROKER_TIMEOUT,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "process-due": {
        "task": "escrows.tasks.process_due",
        "schedule": timedelta(seconds=envint("CELERY_PROCESS_DUE_SECONDS", 60)),
        # Not worth running late: the next one is a minute away.
        "options": {"expires": envint("CELERY_PROCESS_DUE_SECONDS", 60)},
    },
}

# --- Email (notifications) ---------------------------------------------------------------
# Printed to the console (the log) by default, so the embedded default needs no mail server;
# EMAIL_HOST switches to SMTP, EMAIL_BACKEND to any backend. Tests use Django's locmem outbox.
_EMAIL_SMTP = "django.core.mail.backends.smtp.EmailBackend"
_EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    _EMAIL_SMTP if os.environ.get("EMAIL_HOST") else "django.core.mail.backends.console.EmailBackend"
)
MAILERS = {
    "default": {
        "BACKEND": _EMAIL_BACKEND,
        "OPTIONS": {
            "host": os.environ.get("EMAIL_HOST", "localhost"),
            "port": envint("EMAIL_PORT", 25),
            "username": os.environ.get("EMAIL_HOST_USER", ""),
            "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
            "use_tls": envbool("EMAIL_USE_TLS", False),
            # A mail server that stops answering holds one worker this long, then the email is retried.
            "timeout": envint("EMAIL_TIMEOUT", 20),
        }
        if _EMAIL_BACKEND == _EMAIL_SMTP
        else {},
    }
}
if not os.environ.get("EMAIL_BACKEND") and not os.environ.get("EMAIL_HOST"):
    # Console mail is the documented default, not a forgotten setting: the deploy check's
    # mail.E001 (development-only backend) would flag it.
    SILENCED_SYSTEM_CHECKS = ["mail.E001"]
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Milestone Escrow <no-reply@escrow.example>")
# Notification emails: attempts before one is recorded as failed, exponential backoff between
# them (base * 2**(n-1) seconds, capped), and the lease after which a send whose worker died is
# tried again (same Message-ID). Reminders go out this long before an unpaid escrow expires and
# before an unanswered dispute's request applies.
NOTIFICATION_EMAIL_MAX_ATTEMPTS = envint("NOTIFICATION_EMAIL_MAX_ATTEMPTS", 8)
NOTIFICATION_EMAIL_BACKOFF_SECONDS = float(os.environ.get("NOTIFICATION_EMAIL_BACKOFF_SECONDS", 60))
NOTIFICATION_EMAIL_BACKOFF_MAX_SECONDS = envint("NOTIFICATION_EMAIL_BACKOFF_MAX_SECONDS", 6 * 3600)
NOTIFICATION_EMAIL_LEASE_SECONDS = envint("NOTIFICATION_EMAIL_LEASE_SECONDS", 120)
ESCROW_EXPIRY_REMINDER_BEFORE = timedelta(hours=envint("ESCROW_EXPIRY_REMINDER_HOURS", 72))
ESCROW_DISPUTE_REMINDER_BEFORE = timedelta(hours=envint("ESCROW_DISPUTE_REMINDER_HOURS", 48))

# --- The product -------------------------------------------------------------------------
# Test mode enables wallet top-ups from a mock deposit and the mock card gateway.
ESCROW_TEST_MODE = envbool("ESCROW_TEST_MODE", True)
# Minor-unit exponent of every currency we accept. USDC is shown with 2 decimals, as the
# providers' documents do.
ESCROW_CURRENCIES = {"USD": 2, "EUR": 2, "GBP": 2, "NGN": 2, "KES": 2, "USDC": 2, "JPY": 0}
ESCROW_DEFAULT_CURRENCY = os.environ.get("ESCROW_DEFAULT_CURRENCY", "USD")


# The fee schedule: a percentage (in basis points) of the amount, clamped to [min, max] in the
# currency's major units, rounded half up to the minor unit. The version is stored on each escrow.
class FeeSchedule(TypedDict):
    version: str
    basis_points: int
    min_major: int
    max_major: int


ESCROW_FEE_SCHEDULE: FeeSchedule = {
    "version": "2026-11-v1",
    "basis_points": envint("ESCROW_FEE_BPS", 150),
    "min_major": 1,
    "max_major": 1000,
}
ESCROW_INSPECTION_PERIOD = timedelta(days=envint("ESCROW_INSPECTION_DAYS", 14))
# The seller chooses each escrow's inspection period, in whole days within these bounds
# (ESCROW_INSPECTION_DAYS, within them too, is what the create form and the API start from).
ESCROW_INSPECTION_DAYS_MIN = envint("ESCROW_INSPECTION_DAYS_MIN", 1)
ESCROW_INSPECTION_DAYS_MAX = envint("ESCROW_INSPECTION_DAYS_MAX", 30)
ESCROW_PAYMENT_EXPIRY = timedelta(days=envint("ESCROW_EXPIRY_DAYS", 30))
# Change orders on a funded escrow: a proposal nobody answers lapses after this long.
ESCROW_CHANGE_PROPOSAL_LAPSE = timedelta(days=envint("ESCROW_CHANGE_PROPOSAL_LAPSE_DAYS", 7))
# Disputes: the other party has this long to answer one. Unanswered by then, the opener's request
# applies (release, refund or a split, chosen when it was opened; this setting when they chose
# none; "split" halves the disputed amount, the odd minor unit to the buyer). A contested dispute
# goes to an arbiter (staff) and nothing applies by itself. Evidence files: size cap, stored in MEDIA_ROOT
# and served only to the parties and staff (never from a public MEDIA_URL).
ESCROW_DISPUTE_RESOLUTION_PERIOD = timedelta(days=envint("ESCROW_DISPUTE_RESOLUTION_DAYS", 14))
ESCROW_DISPUTE_DEFAULT_OUTCOME = os.environ.get("ESCROW_DISPUTE_DEFAULT_OUTCOME", "split")
ESCROW_EVIDENCE_MAX_BYTES = envint("ESCROW_EVIDENCE_MAX_BYTES", 5 * 1024 * 1024)
ESCROW_EVIDENCE_MAX_ITEMS = envint("ESCROW_EVIDENCE_MAX_ITEMS", 50)
# Pictures of a standard escrow (the escrow API's imageUrl files): how many, how large each;
# stored in MEDIA_ROOT like evidence and served only through the API.
ESCROW_IMAGES_MAX = envint("ESCROW_IMAGES_MAX", 5)
ESCROW_IMAGE_MAX_BYTES = envint("ESCROW_IMAGE_MAX_BYTES", 5 * 1024 * 1024)
MEDIA_ROOT = os.environ.get("MEDIA_ROOT") or str(BASE_DIR / "media")
MEDIA_URL = "media/"
# Review clock: the buyer may extend a delivered milestone's review once, by this much; a
# reminder email goes out this long before the deadline (process_due / beat).
ESCROW_REVIEW_EXTENSION = timedelta(days=envint("ESCROW_REVIEW_EXTENSION_DAYS", 7))
ESCROW_REVIEW_REMINDER_BEFORE = timedelta(hours=envint("ESCROW_REVIEW_REMINDER_HOURS", 48))
# Due dates: the seller is reminded this long before a stage not yet delivered is due (once per
# due date; both parties are told once when it passes). process_due / beat.
ESCROW_DUE_REMINDER_BEFORE = timedelta(hours=envint("ESCROW_DUE_REMINDER_HOURS", 48))
# Largest amount of anything we accept, in major units (keeps sums far from BIGINT limits).
ESCROW_MAX_AMOUNT_MAJOR = 10**12
# The most one escrow can hold, in each currency's major units: ESCROW_MAX_AMOUNT for every
# currency, ESCROW_MAX_AMOUNT_<CODE> for one (the defaults weigh the weaker currencies).
ESCROW_MAX_AMOUNT = envint("ESCROW_MAX_AMOUNT", 1_000_000)
ESCROW_MAX_AMOUNTS = {
    code: envint(f"ESCROW_MAX_AMOUNT_{code}", default)
    for code, default in {
        **dict.fromkeys(ESCROW_CURRENCIES, ESCROW_MAX_AMOUNT),
        **(
            {"JPY": 150_000_000, "NGN": 1_500_000_000, "KES": 130_000_000}
            if "ESCROW_MAX_AMOUNT" not in os.environ
            else {}
        ),
    }.items()
}
ESCROW_CARD_GATEWAY = os.environ.get("ESCROW_CARD_GATEWAY", "escrows.providers.MockCardGateway")
ESCROW_OFF_RAMP = os.environ.get("ESCROW_OFF_RAMP", "escrows.providers.MockOffRamp")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
# Settlement payouts: attempts before FAILED, exponential backoff (base * 2**(n-1), capped), and
# the lease after which a payout whose worker died is picked up again by the process_due sweep.
ESCROW_SETTLEMENT_MAX_ATTEMPTS = envint("ESCROW_SETTLEMENT_MAX_ATTEMPTS", 5)
ESCROW_SETTLEMENT_BACKOFF_SECONDS = float(os.environ.get("ESCROW_SETTLEMENT_BACKOFF_SECONDS", 30))
ESCROW_SETTLEMENT_BACKOFF_MAX_SECONDS = envint("ESCROW_SETTLEMENT_BACKOFF_MAX_SECONDS", 3600)
ESCROW_SETTLEMENT_LEASE_SECONDS = envint("ESCROW_SETTLEMENT_LEASE_SECONDS", 300)
# The mock off-ramp answers `slow-…` destinations this many seconds after paying (tests kill a
# worker while it waits).
ESCROW_MOCK_OFF_RAMP_SLOW_SECONDS = float(os.environ.get("ESCROW_MOCK_OFF_RAMP_SLOW_SECONDS", 5))

# --- Stripe (docs/stripe.md) ---------------------------------------------------------------
# Card payments through Stripe, beside the mock gateway: off unless STRIPE_SECRET_KEY is set.
# Stripe's signed events come to /stripe/webhook, signed with STRIPE_WEBHOOK_SECRET; one older than
# the tolerance is refused. STRIPE_API_BASE points the SDK elsewhere (the tests' local server).
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
# The secret of a second endpoint for connected accounts' events (Stripe Connect), if there is one.
STRIPE_CONNECT_WEBHOOK_SECRET = os.environ.get("STRIPE_CONNECT_WEBHOOK_SECRET", "")
STRIPE_WEBHOOK_TOLERANCE_SECONDS = envint("STRIPE_WEBHOOK_TOLERANCE_SECONDS", 300)
# Payouts as Stripe transfers to people's connected Express accounts (Stripe Connect, with
# STRIPE_SECRET_KEY set too); off, payouts go through ESCROW_OFF_RAMP as before.
STRIPE_CONNECT = envbool("STRIPE_CONNECT", False)
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")
STRIPE_TIMEOUT_SECONDS = float(os.environ.get("STRIPE_TIMEOUT_SECONDS", 20))
STRIPE_NETWORK_RETRIES = envint("STRIPE_NETWORK_RETRIES", 2)
# Where the payment page loads Stripe.js from (the tests serve a stand-in from their local Stripe).
STRIPE_JS_URL = os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/")


def with_stripe_js(policy: dict[str, list[str]], js_url: str) -> dict[str, list[str]]:
    """The policy, also allowing what Stripe.js at `js_url` loads, as Stripe's integration
    security guide lists it: its script and its frames from js.stripe.com and its subdomains
    (3D Secure pages from hooks.stripe.com), its calls to api.stripe.com. A stand-in served from
    elsewhere (the tests' local Stripe) does all three from its own origin."""
    url = urlsplit(js_url)
    origin = f"{url.scheme}://{url.netloc}"
    if url.hostname == "js.stripe.com":
        sources = {
            "script-src": [origin, "https://*.js.stripe.com"],
            "frame-src": [origin, "https://*.js.stripe.com", "https://hooks.stripe.com"],
            "connect-src": ["https://api.stripe.com"],
        }
    else:
        sources = {"script-src": [origin], "frame-src": [origin], "connect-src": [origin]}
    # A directive the policy leaves out falls back to default-src: keep what that allowed.
    return {
        **policy,
        **{name: [*policy.get(name, policy["default-src"]), *extra] for name, extra in sources.items()},
    }


# Only when the payment page takes cards through Stripe does any page load it.
if STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY:
    SECURE_CSP = with_stripe_js(SECURE_CSP, STRIPE_JS_URL)

# --- Webhooks ------------------------------------------------------------------------------
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", 5))
WEBHOOK_MAX_ATTEMPTS = envint("WEBHOOK_MAX_ATTEMPTS", 8)
# Delay before attempt n+1 is base * 2**(n-1) seconds, capped.
WEBHOOK_BACKOFF_SECONDS = float(os.environ.get("WEBHOOK_BACKOFF_SECONDS", 30))
WEBHOOK_BACKOFF_MAX_SECONDS = envint("WEBHOOK_BACKOFF_MAX_SECONDS", 6 * 3600)
# An attempt whose worker died is retried after this long.
WEBHOOK_LEASE_SECONDS = envint("WEBHOOK_LEASE_SECONDS", 120)
# The outbox sweep re-dispatches events still undispatched this long after they were written.
WEBHOOK_OUTBOX_GRACE_SECONDS = envint("WEBHOOK_OUTBOX_GRACE_SECONDS", 60)
# Endpoints on loopback / private networks are refused unless allowed (development and tests).
WEBHOOK_ALLOW_PRIVATE_URLS = envbool("WEBHOOK_ALLOW_PRIVATE_URLS", DEBUG)
# An endpoint whose last this many deliveries all failed (each after every retry) is switched
# off and its owner told; 0 never switches one off.
WEBHOOK_DISABLE_AFTER_FAILURES = envint("WEBHOOK_DISABLE_AFTER_FAILURES", 10)

# --- API --------------------------------------------------------------------------------
# Cache: the throttle counters live here. The default LocMemCache is per process (fine for the
# embedded default); production sets CACHE_URL=redis://host:6379/1 so limits hold across processes.
CACHE_URL = os.environ.get("CACHE_URL", "")
# Each connect and command to the cache is bounded, so a cache that stops answering costs a request
# at most this long: every use fails open (the rate limit allows, event dispatch publishes).
CACHE_TIMEOUT_SECONDS = float(os.environ.get("CACHE_TIMEOUT_SECONDS", "1"))


def redis_cache(location: str, timeout: float = CACHE_TIMEOUT_SECONDS) -> dict:
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": location,
        "OPTIONS": {"socket_connect_timeout": timeout, "socket_timeout": timeout},
    }


CACHES = {
    "default": (
        redis_cache(CACHE_URL) if CACHE_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Event hand-overs are coalesced through the shared cache: while one dispatch task is queued
# and has not started, later commits publish no other (the queued one takes their events too).
# The flag expires after this many seconds, so a lost task costs at most that long (then the
# next commit publishes; the outbox sweep stays the backstop). Only with a shared cache (Redis):
# a per-process cache cannot see the worker clear the flag, so 0 (off) without CACHE_URL.
EVENT_DISPATCH_COALESCE_SECONDS = envint("EVENT_DISPATCH_COALESCE_SECONDS", 10 if CACHE_URL else 0)
# Requests per API key (or signed-in user), DRF rate syntax: "600/min", "50/second", ...
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600/min")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.APIKeyAuthentication",
        "accounts.authentication.CustomerSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["escrows.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["escrows.api.renderers.FastJSONRenderer"],
    "EXCEPTION_HANDLER": "escrows.api.payment_intents.base.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Milestone Escrow API",
    "DESCRIPTION": (
        "Two API surfaces over the same escrows: the payment-intents API (`/v1/payment-intents`) "
        "and the escrow-provider API (`/v1/escrow/...`, `/v1/payment/...`, `/v1/customer/...`). "
        "Authenticate with an API key in `X-API-Key` or `Authorization: Bearer`. POST/PUT accept "
        "an `Idempotency-Key` header."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # A choice set several components share gets one name of its own.
    "ENUM_NAME_OVERRIDES": {
        "ProviderCustomerStatusEnum": "escrows.api.provider.customers.CUSTOMER_STATUSES",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
