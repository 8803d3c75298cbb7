"""Django settings. Every value comes from the environment (see README, "Settings").

The defaults are the embedded mode: SQLite, in-memory channel layer, local-memory cache
and the offline LLM provider, so a bare machine with only Python runs the product.
"""

from __future__ import annotations

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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "conversations.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "chat"),
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 times reads out after 5 s by default, and the layer blocks on
            # BZPOPMIN for 5 s: without this every idle socket dies with 1011.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}]},
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
COUNSELING_RATE = env_rate("COUNSELING_RATE", "10/m")
COUNSELING_SESSION_START_RATE = env_rate("COUNSELING_SESSION_START_RATE", "20/m")

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
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "webmaster@localhost")
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)

# --- Streams, sockets, retention ------------------------------------------------------------

STREAM_FLUSH_MS = env_int("STREAM_FLUSH_MS", 50, minimum=0, maximum=1000)
WS_MAX_FRAME_BYTES = env_int("WS_MAX_FRAME_BYTES", 16 * 1024, minimum=1024)
WS_MAX_SOCKETS_PER_USER = env_int("WS_MAX_SOCKETS_PER_USER", 3, minimum=1)
SESSION_RETENTION_DAYS = env_int("SESSION_RETENTION_DAYS", 365, minimum=1)

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
}
