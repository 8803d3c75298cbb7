"""Django settings. Every value comes from the environment (see README, "Settings").

The defaults are the embedded mode: SQLite, in-memory channel layer, local-memory cache
and the offline LLM provider, so a bare machine with only Python runs the product.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = BASE_DIR / ".local"  # git-ignored: dev secret key, SQLite files

# --- Core -------------------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", True)


def _dev_secret_key() -> str:
    """A per-checkout key kept on disk, so sessions and encrypted text survive restarts."""
    LOCAL_DIR.mkdir(exist_ok=True)
    path = LOCAL_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off (production mode)."
        )
    SECRET_KEY = _dev_secret_key()
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", CORS_ALLOWED_ORIGINS)
CORS_ALLOW_CREDENTIALS = True
# Frontends elsewhere call the API; the admin and the pages are read from their own origin only.
CORS_URLS_REGEX = r"^/api/"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "corsheaders",
    "ninja",
    "conversations",
    "counseling",
    "maice",
    "customs",
    "customs.hs",
]

# Django's own, run on the event loop for async requests (config/middleware.py).
MIDDLEWARE = [
    "config.middleware.SecurityMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "config.middleware.SessionMiddleware",
    "config.middleware.CommonMiddleware",
    "config.middleware.CsrfViewMiddleware",
    "config.middleware.AuthenticationMiddleware",
    "config.middleware.MessageMiddleware",
    "config.middleware.XFrameOptionsMiddleware",
    "config.middleware.ApiErrorMiddleware",
]

# Django's checks look for its own dotted paths; config.W001 (config/middleware.py) asks for these.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    # CONN_MAX_AGE must stay 0 under ASGI: persistent connections leak across the
    # thread pool. Django's psycopg pool gives reuse instead.
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=0)
    if _db["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", True):
        _db.setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DATABASE_POOL_MIN", 1, minimum=0),
            "max_size": env_int("DATABASE_POOL_MAX", 10, minimum=1),
        }
        if env_bool("DATABASE_PREPARED_STATEMENTS", True):
            # Pooled connections live on, so psycopg can prepare the hot statements
            # (the reply path's insert, update and history read) once per connection
            # and PostgreSQL stops re-planning them. Not through a transaction-mode
            # pgbouncer: turn this off there.
            _db["OPTIONS"].update(server_side_binding=True, prepare_threshold=2)
else:
    LOCAL_DIR.mkdir(exist_ok=True)
    _db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(LOCAL_DIR / "db.sqlite3"),
        # A file (not :memory:) so a real server process started by the tests shares it.
        "TEST": {"NAME": str(LOCAL_DIR / "test.sqlite3")},
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
_db["CONN_MAX_AGE"] = 0
DATABASES = {"default": _db}
# Threads that run async callers' database work (conversations.aio.run_db); each holds
# at most one connection at a time, so keep it at or under the pool's maximum.
DB_THREADS = env_int("DB_THREADS", env_int("DATABASE_POOL_MAX", 10, minimum=1), minimum=1, maximum=256)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer ----------------------------------------------------------

REDIS_URL = env_str("REDIS_URL")
# Connections of a process's asyncio Redis client (conversations.aio): one per stream
# waiting on a blocking read, so at least the streams one process serves at once.
REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 2000, minimum=10)
# A Redis that stops answering (a network cut without a reset, a stalled host) fails each
# call after this many seconds instead of holding it for the kernel's retransmission
# timeout (about 15 minutes). Blocking reads wait at most REDIS_BLOCK_SECONDS at a time.
REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 30.0, minimum=1.0)
REDIS_BLOCK_SECONDS = 10.0
if REDIS_SOCKET_TIMEOUT <= REDIS_BLOCK_SECONDS:
    raise ImproperlyConfigured(f"REDIS_SOCKET_TIMEOUT must exceed the {REDIS_BLOCK_SECONDS:g} s of a blocking read")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "conversations.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "chat"),
            "OPTIONS": {"socket_timeout": REDIS_SOCKET_TIMEOUT, "socket_connect_timeout": 5},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 times reads out after 5 s by default, and the layer blocks on
            # BZPOPMIN for 5 s: with that default every idle socket dies with 1011.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": REDIS_SOCKET_TIMEOUT}]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# django-ratelimit's core keeps its counters in the shared cache; fail closed.
RATELIMIT_USE_CACHE = "default"
RATELIMIT_FAIL_OPEN = False

# --- Auth, sessions, security -----------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/counseling/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Everything the pages load is the project's own (no CDN); KaTeX needs inline styles.
# Empty: no header (e.g. a proxy in front sets its own).
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'; "
    "base-uri 'none'",
)
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Message text is encrypted at rest (django-fernet-encrypted-fields). Keys derive from
# SECRET_KEY (+ SECRET_KEY_FALLBACKS) and these salts; the first pair encrypts, all
# decrypt, so rotation is: add a new value in front, run `manage.py reencrypt_messages`.
SALT_KEY = env_list("FIELD_ENCRYPTION_KEYS", ["conversations-v1"])

# --- i18n, static -----------------------------------------------------------------------

LANGUAGE_CODE = "ko-kr"
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "Asia/Seoul")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# daphne does not serve static files; in the embedded mode the ASGI app does.
SERVE_STATIC = env_bool("DJANGO_SERVE_STATIC", DEBUG)

# --- LLM gateway --------------------------------------------------------------------------

LLM_BASE_URL = env_str("LLM_BASE_URL")
LLM_API_KEY = env_str("LLM_API_KEY")
LLM_MODEL = env_str("LLM_MODEL", "gpt-4o-mini")
LLM_CONNECT_TIMEOUT = env_float("LLM_CONNECT_TIMEOUT", 5.0, minimum=0.1)
# Longest wait for the first token and between two tokens.
LLM_READ_TIMEOUT = env_float("LLM_READ_TIMEOUT", 20.0, minimum=0.1)
LLM_TOTAL_TIMEOUT = env_float("LLM_TOTAL_TIMEOUT", 120.0, minimum=1.0)
# Retries happen only before the first token arrives.
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 2, minimum=0, maximum=5)
LLM_MODERATION = env_bool("LLM_MODERATION", False)
# Pace of the offline provider's pieces (it stands in for a model, so it streams like one).
OFFLINE_LLM_TOKEN_DELAY_MS = env_int("OFFLINE_LLM_TOKEN_DELAY_MS", 30, minimum=0, maximum=2000)
LLM_MODERATION_MODEL = env_str("LLM_MODERATION_MODEL", "omni-moderation-latest")

# --- Counseling ---------------------------------------------------------------------------

COUNSELING_LLM_MODEL = env_str("COUNSELING_LLM_MODEL") or LLM_MODEL
COUNSELING_HISTORY_WINDOW = env_int("COUNSELING_HISTORY_WINDOW", 10, minimum=5, maximum=20)
COUNSELING_TEMPERATURE = env_float("COUNSELING_TEMPERATURE", 0.7)
COUNSELING_TOP_P = env_float("COUNSELING_TOP_P", 0.8)
COUNSELING_MAX_TOKENS = env_int("COUNSELING_MAX_TOKENS", 1024, minimum=16)
COUNSELING_MESSAGE_MAX_CHARS = env_int("COUNSELING_MESSAGE_MAX_CHARS", 2000, minimum=1)
# Sign-in attempts per client address, and failed ones per username (conversations/forms.py).
LOGIN_RATE = env_rate("LOGIN_RATE", "60/m")
LOGIN_FAILURE_RATE = env_rate("LOGIN_FAILURE_RATE", "20/h")
COUNSELING_RATE = env_rate("COUNSELING_RATE", "10/m")
COUNSELING_SESSION_START_RATE = env_rate("COUNSELING_SESSION_START_RATE", "20/m")

# --- Customs ------------------------------------------------------------------------------

CUSTOMS_LLM_MODEL = env_str("CUSTOMS_LLM_MODEL") or LLM_MODEL
CUSTOMS_MESSAGE_MAX_CHARS = env_int("CUSTOMS_MESSAGE_MAX_CHARS", 4000, minimum=1)
CUSTOMS_HISTORY_WINDOW = env_int("CUSTOMS_HISTORY_WINDOW", 10, minimum=0, maximum=40)
CUSTOMS_TEMPERATURE = env_float("CUSTOMS_TEMPERATURE", 0.3)
CUSTOMS_MAX_TOKENS = env_int("CUSTOMS_MAX_TOKENS", 1500, minimum=16)
# AI requests per signed-in user, and per client IP for guests.
CUSTOMS_RATE = env_rate("CUSTOMS_RATE", "20/m")
CUSTOMS_GUEST_RATE = env_rate("CUSTOMS_GUEST_RATE", "10/m")
# The seed's timeouts: the whole answer, detail buttons, the parallel chat save.
CUSTOMS_LLM_TIMEOUT = env_float("CUSTOMS_LLM_TIMEOUT", 45.0, minimum=1.0)
CUSTOMS_DETAIL_TIMEOUT = env_float("CUSTOMS_DETAIL_TIMEOUT", 10.0)
CUSTOMS_SAVE_TIMEOUT = env_float("CUSTOMS_SAVE_TIMEOUT", 5.0, minimum=0.1)
# Intent classification: the LLM's own deadline (rules answer after it), and the cache.
CUSTOMS_INTENT_TIMEOUT = env_float("CUSTOMS_INTENT_TIMEOUT", 5.0, minimum=0.1)
CUSTOMS_INTENT_CACHE_TTL = env_int("CUSTOMS_INTENT_CACHE_TTL", 60, minimum=0)
CUSTOMS_INTENT_CACHE_SIZE = env_int("CUSTOMS_INTENT_CACHE_SIZE", 100, minimum=1)
CUSTOMS_DELTA_CHARS = env_int("CUSTOMS_DELTA_CHARS", 10, minimum=1, maximum=1000)
# Korea Customs UNI-PASS cargo clearance progress service (tracking uses the database without a key).
UNIPASS_API_KEY = env_str("UNIPASS_API_KEY")
UNIPASS_BASE_URL = env_str("UNIPASS_BASE_URL", "https://unipass.customs.go.kr:38010/ext/rest")
UNIPASS_CONNECT_TIMEOUT = env_float("UNIPASS_CONNECT_TIMEOUT", 3.0, minimum=0.1)
UNIPASS_READ_TIMEOUT = env_float("UNIPASS_READ_TIMEOUT", 10.0, minimum=0.1)
# HS classification (customs.hs).
HS_LLM_MODEL = env_str("HS_LLM_MODEL") or env_str("CUSTOMS_LLM_MODEL") or LLM_MODEL
# The seed's LLM time limit; past it the retrieval result answers.
HS_LLM_TIMEOUT = env_float("HS_LLM_TIMEOUT", 45.0, minimum=1.0)
# --- MAICE math tutor (shared/spec/maice.md) ------------------------------------------------

MAICE_LLM_MODEL = env_str("MAICE_LLM_MODEL") or LLM_MODEL
MAICE_QUESTION_MAX_CHARS = env_int("MAICE_QUESTION_MAX_CHARS", 4000, minimum=1)
MAICE_RATE = env_rate("MAICE_RATE", "20/m")
# "agent": everyone gets the agent; "ab": a balanced A/B assignment per user, stored once.
MAICE_MODE_ASSIGNMENT = env_str("MAICE_MODE_ASSIGNMENT", "agent")
if MAICE_MODE_ASSIGNMENT not in ("agent", "ab"):
    raise ImproperlyConfigured(f"MAICE_MODE_ASSIGNMENT must be agent or ab, got {MAICE_MODE_ASSIGNMENT!r}")
MAICE_HISTORY_WINDOW = env_int("MAICE_HISTORY_WINDOW", 5, minimum=0, maximum=20)
MAICE_MAX_CLARIFICATIONS = env_int("MAICE_MAX_CLARIFICATIONS", 3, minimum=0, maximum=10)
MAICE_ANSWER_MAX_TOKENS = env_int("MAICE_ANSWER_MAX_TOKENS", 2048, minimum=16)
MAICE_CHUNK_MIN_CHARS = env_int("MAICE_CHUNK_MIN_CHARS", 50, minimum=1)
MAICE_CHUNK_MAX_CHARS = env_int("MAICE_CHUNK_MAX_CHARS", 200, minimum=MAICE_CHUNK_MIN_CHARS)
# The seed's timeouts: between chunks once the answer streams, per answer, per connection.
MAICE_CHUNK_TIMEOUT = env_float("MAICE_CHUNK_TIMEOUT", 2.0, minimum=0.05)
MAICE_ANSWER_TIMEOUT = env_float("MAICE_ANSWER_TIMEOUT", 30.0, minimum=0.1)
MAICE_CONNECTION_TIMEOUT = env_float("MAICE_CONNECTION_TIMEOUT", 60.0, minimum=0.1)
# No agent took the request within this: AGENT_UNAVAILABLE.
MAICE_PICKUP_TIMEOUT = env_float("MAICE_PICKUP_TIMEOUT", 5.0, minimum=0.05)
MAICE_KEEPALIVE_SECONDS = env_float("MAICE_KEEPALIVE_SECONDS", 15.0, minimum=0.05)
# A client that leaves stops its answer unless a reader (the seed's EventSource, a resume)
# is attached within this.
MAICE_DISCONNECT_GRACE_MS = env_int("MAICE_DISCONNECT_GRACE_MS", 300, minimum=0, maximum=10_000)
MAICE_REDIS_PREFIX = env_str("MAICE_REDIS_PREFIX", "maice")
MAICE_EVENTS_TTL = env_int("MAICE_EVENTS_TTL", 3600, minimum=60)
MAICE_EVENTS_MAXLEN = env_int("MAICE_EVENTS_MAXLEN", 2000, minimum=100)
MAICE_AGENT_CONCURRENCY = env_int("MAICE_AGENT_CONCURRENCY", 200, minimum=1, maximum=10_000)
# A worker's request left unacknowledged this long (its worker died) is claimed by another.
MAICE_AGENT_CLAIM_IDLE_MS = env_int("MAICE_AGENT_CLAIM_IDLE_MS", 3000, minimum=200)

# --- Crisis screening and alerts -------------------------------------------------------------

# The LLM's second opinion on risk, beside each counseling reply (only with LLM_BASE_URL).
CRISIS_LLM_CLASSIFIER = env_bool("CRISIS_LLM_CLASSIFIER", True)
CRISIS_CLASSIFIER_MODEL = env_str("CRISIS_CLASSIFIER_MODEL") or LLM_MODEL
# How long a finished reply waits for the second opinion before it is let through.
CRISIS_CLASSIFIER_TIMEOUT = env_float("CRISIS_CLASSIFIER_TIMEOUT", 8.0, minimum=0.1)
# Who hears of an urgent screening: dotted paths of notifier callables.
CRISIS_ALERT_NOTIFIERS = env_list("CRISIS_ALERT_NOTIFIERS", ["conversations.alerts.email_notify",
                                                             "conversations.alerts.webhook_notify"])
CRISIS_ALERT_EMAILS = env_list("CRISIS_ALERT_EMAILS")
CRISIS_ALERT_WEBHOOK_URL = env_str("CRISIS_ALERT_WEBHOOK_URL")
CRISIS_ALERT_WEBHOOK_TIMEOUT = env_float("CRISIS_ALERT_WEBHOOK_TIMEOUT", 5.0, minimum=0.1)
# A person already alerted on within this many seconds, at the same level or higher and not
# yet reviewed, is not alerted on again (the admin's queue lists every decision); 0: always.
CRISIS_ALERT_REPEAT_AFTER = env_int("CRISIS_ALERT_REPEAT_AFTER", 600, minimum=0)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "webmaster@localhost")
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)

# --- Streams, sockets, retention ------------------------------------------------------------

STREAM_FLUSH_MS = env_int("STREAM_FLUSH_MS", 50, minimum=0, maximum=1000)
# A streaming reply's text so far is saved this often, so a crash keeps the partial text.
STREAM_SAVE_MS = env_int("STREAM_SAVE_MS", 1000, minimum=100, maximum=60000)
# Locks, socket slots and live replies are leases: a process that stops renewing them
# (it died) loses them after this many seconds; the heartbeat renews every third of it.
LEASE_TTL_SECONDS = env_int("LEASE_TTL_SECONDS", 6, minimum=2, maximum=300)
WS_MAX_FRAME_BYTES = env_int("WS_MAX_FRAME_BYTES", 16 * 1024, minimum=1024)
WS_MAX_SOCKETS_PER_USER = env_int("WS_MAX_SOCKETS_PER_USER", 3, minimum=1)
# An open socket re-checks its token or login this often: a revoked token or an ended
# login closes it (sockets are only authenticated when they open).
WS_AUTH_RECHECK_SECONDS = env_float("WS_AUTH_RECHECK_SECONDS", 30.0, minimum=0.05)
SESSION_RETENTION_DAYS = env_int("SESSION_RETENTION_DAYS", 365, minimum=1)
# Who read, exported or moderated a transcript is kept this long, past the session's purge.
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 1825, minimum=1)

# --- Serving ---------------------------------------------------------------------------------

# Worker processes of `manage.py serve`. The embedded mode keeps its cache, locks and
# channel layer in process memory, so it serves from one process.
WEB_CONCURRENCY = env_int("WEB_CONCURRENCY", (os.cpu_count() or 1) if REDIS_URL else 1, minimum=1, maximum=64)
if WEB_CONCURRENCY > 1 and not REDIS_URL:
    raise ImproperlyConfigured("WEB_CONCURRENCY > 1 needs REDIS_URL: the embedded mode is one process")

# --- Logging ----------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # On the handler, so records propagated from every logger are masked too.
    "filters": {"pii": {"()": "conversations.pii.PIIMaskingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["pii"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Django's defaults give these handlers of their own (a debug console, mail to ADMINS)
    # that would print or send records unmasked: here they only propagate to the root's.
    "loggers": {
        **{name: {"handlers": [], "propagate": True} for name in ("django", "django.server")},
        # Even at LOG_LEVEL=DEBUG: these log request headers, every WebSocket frame (uvicorn
        # hands its error logger to the websockets library) and SQL with its parameters,
        # that is cookies and users' words.
        **{name: {"level": "INFO"} for name in ("websockets", "uvicorn.error", "django.db.backends")},
    },
}
