"""Ablage settings: one module, configured only through environment variables.

See README.md ("Konfiguration") for every variable. Test overrides live in
``ablage/settings_test.py``.
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from ablage.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_int_list,
    env_list,
    env_network_list,
    env_str,
    fernet_keys_check,
    persisted_fernet_key,
    persisted_secret_key,
    s3_client_config,
    s3_encryption_parameters,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("ABLAGE_DATA_DIR", str(BASE_DIR / "data"))).resolve()

SECRET_KEY = env_str("SECRET_KEY") or persisted_secret_key(DATA_DIR)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://localhost:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "django_htmx",
    "channels",
    "accounts",
    "documents",
    "ocr",
    "extraction",
    "suppliers",
    "workflows",
    "notifications",
    "monitoring",
    "system",
]

MIDDLEWARE = [
    "ablage.logs.CorrelationIdMiddleware",
    "monitoring.metrics.RequestMetricsMiddleware",
    # Before sessions and sign-in touch the database: 503 + Retry-After while it is unreachable.
    "ablage.unavailable.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "ablage.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Before anything that acts for the signed-in user: an expired session is signed out first.
    "accounts.middleware.SessionTimeoutMiddleware",
    "accounts.middleware.UserPreferencesMiddleware",
    "accounts.middleware.TwoFactorEnforcementMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "ablage.urls"
WSGI_APPLICATION = "ablage.wsgi.application"
ASGI_APPLICATION = "ablage.asgi.application"

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
                "django.template.context_processors.i18n",
                "system.context_processors.ablage",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'ablage.sqlite3'}"), base_dir=BASE_DIR)
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "documents:list"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# A session ends after SESSION_IDLE_TIMEOUT_SECONDS without activity (sliding; polling and
# pushes do not count) and in any case SESSION_MAX_AGE_SECONDS after sign-in
# (accounts.middleware.SessionTimeoutMiddleware). The cookie lives as long as the maximum.
SESSION_IDLE_TIMEOUT_SECONDS = env_int("SESSION_IDLE_TIMEOUT_SECONDS", 3600, minimum=60)
SESSION_MAX_AGE_SECONDS = env_int("SESSION_MAX_AGE_SECONDS", 10 * 3600, minimum=300)
if SESSION_MAX_AGE_SECONDS < SESSION_IDLE_TIMEOUT_SECONDS:
    raise ImproperlyConfigured("SESSION_MAX_AGE_SECONDS must not be shorter than SESSION_IDLE_TIMEOUT_SECONDS.")
SESSION_COOKIE_AGE = SESSION_MAX_AGE_SECONDS
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the cookie-less meta tag; see base.html
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# German first: 1.234,56 € and 31.12.2026 in the UI.
LANGUAGE_CODE = "de"
LANGUAGES = [("de", _("Deutsch")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Berlin")
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
MEDIA_ROOT = DATA_DIR / "media"

# Storage: local files by default; S3 (or any S3-compatible endpoint) when a bucket is named.
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    _document_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env_str("S3_ENDPOINT_URL"),
            "region_name": env_str("AWS_S3_REGION_NAME"),
            "access_key": env_str("AWS_ACCESS_KEY_ID"),
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY"),
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
            "object_parameters": s3_encryption_parameters(),
            "client_config": s3_client_config(),
        },
    }
else:
    _document_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
    }
# While the storage cannot be reached (or its disk is full) an upload is refused with 503 and
# this Retry-After; the worker retries its job with backoff (ablage.outages).
ABLAGE_STORAGE_RETRY_AFTER_SECONDS = env_int("ABLAGE_STORAGE_RETRY_AFTER_SECONDS", 120, minimum=1)
STORAGES = {
    "default": _document_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Redis is optional: without it the embedded default uses a file-system broker and the
# browser polls for status instead of receiving websocket pushes.
REDIS_URL = env_str("REDIS_URL")
# API rate-limit counters (accounts.api.throttling) must be shared by all web processes.
_throttle_cache = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}
if REDIS_URL:
    _throttle_cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": {**_throttle_cache, "KEY_PREFIX": "throttle"},
}
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("CHANNELS_PREFIX", "ablage")},
        }
    }
else:
    CHANNEL_LAYERS = {}
LIVE_UPDATES = "websocket" if CHANNEL_LAYERS else "polling"

BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")


def filesystem_broker_options(broker_dir: Path) -> dict:
    """The embedded default's broker: web and worker exchange messages as files in the data directory."""
    folders = {name: broker_dir / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        # Without it kombu writes its exchange files into the current directory.
        "control_folder": str(folders["control"]),
        "store_processed": False,
    }


if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(BROKER_DIR)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Worker logs go through LOGGING (JSON, correlation ids, masking) like the web process.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "documents.tasks.process_document": {"queue": "ocr_cpu"},
    "notifications.tasks.*": {"queue": "notify"},
    "extraction.tasks.*": {"queue": "extract"},
}
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 600, minimum=10)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic work: defaults of the ``system.ScheduledTask`` rows (admin-editable: schedule, time
# window, on/off), synchronised into django-celery-beat by ``manage.py sync_schedules``.
ABLAGE_SCHEDULE = {
    "review-queue-refresh": {
        "task": "documents.tasks.review_queue_refresh",
        "cron": "*/5 * * * *",
        "description": "Prüfprioritäten neu berechnen (SLA-Nähe wächst mit der Zeit)",
    },
    "recover-stale-jobs": {
        "task": "documents.tasks.recover_stale_jobs",
        "cron": "*/5 * * * *",
        "description": "Hängende Verarbeitungsaufträge erneut senden",
    },
    "workflow-resume-due": {
        "task": "workflows.tasks.resume_due_executions",
        "cron": "* * * * *",
        "description": "Fällige Workflow-Pausen fortsetzen, verwaiste Läufe übernehmen",
    },
    "health-check": {
        "task": "monitoring.tasks.record_health",
        "cron": "*/5 * * * *",
        "description": "Bereitschaftsprüfung aufzeichnen",
    },
    "backend-metrics": {
        "task": "monitoring.tasks.aggregate_backend_metrics",
        "cron": "5 * * * *",
        "description": "OCR-Backend-Kennzahlen je Stunde und Tag verdichten",
    },
    "accuracy-drift": {
        "task": "monitoring.tasks.check_accuracy_drift",
        "cron": "30 6 * * *",
        "description": "Genauigkeit je Feld gegen die Vorwoche prüfen und bei Abfall melden",
    },
    "retention-proposals": {
        "task": "documents.tasks.retention_proposals",
        "cron": "0 7 1 * *",
        "description": "Dokumente mit abgelaufener Aufbewahrung den Administratoren zur Löschung vorschlagen",
    },
    "archive-verify": {
        "task": "monitoring.tasks.verify_archive",
        "cron": "45 2 * * *",
        "description": "Audit-Kette und Prüfsummen der Originale prüfen (GoBD)",
    },
    "result-cache-prune": {
        "task": "documents.tasks.result_cache_prune",
        "cron": "40 3 * * *",
        "description": "Ergebnis-Cache aufräumen (veraltete Version, gelöschte Inhalte, lange ungenutzt)",
    },
    "cleanup": {
        "task": "monitoring.tasks.cleanup",
        "cron": "15 3 * * *",
        "description": "Alte Statusprüfungen, Worker-Einträge und abgelaufene Parameter entfernen",
    },
    # Retries with backoff are rows whose next attempt became due; this sweep sends them.
    "notifications-send-due": {
        "task": "notifications.tasks.send_due",
        "cron": "* * * * *",
        "description": "Fällige E-Mails und Webhooks senden (Wiederholungen, Ruhezeit vorbei)",
    },
    "notifications-digests": {
        "task": "notifications.tasks.send_digests",
        "cron": "*/5 * * * *",
        "description": "Stündliche und tägliche Zusammenfassungen versenden",
    },
    "notifications-purge-expired": {
        "task": "notifications.tasks.purge_expired",
        "cron": "20 * * * *",
        "description": "Abgelaufene Benachrichtigungen löschen",
    },
    # Cheap when there is nothing new: the task returns after one EXISTS query.
    "classifier-train": {
        "task": "extraction.tasks.classifier_train",
        "cron": "20 * * * *",
        "description": "Dokumenttyp-Modell neu lernen, wenn neue bestätigte Typen vorliegen",
    },
    "model-performance": {
        "task": "extraction.tasks.model_performance_compute",
        "cron": "50 * * * *",
        "description": "Modellleistung je Tag berechnen (Genauigkeit, Präzision/Trefferquote/F1 je Feld)",
    },
    "poll-mail-accounts": {
        "task": "documents.tasks.poll_mail_accounts",
        "cron": "*/5 * * * *",
        "description": "E-Mail-Postfächer abrufen (Anhänge werden Dokumente)",
    },
}
CELERY_BEAT_SCHEDULE = {}
CELERY_TIMEZONE = TIME_ZONE
ABLAGE_QUEUES = ["default", "ocr_cpu", "ocr_gpu", "extract", "notify"]
# Scheduled exports land under this storage prefix (a folder on disk, or a prefix in the S3 bucket).
ABLAGE_EXPORT_PREFIX = env_str("ABLAGE_EXPORT_PREFIX", "exports")
# /health/ready wants a live worker for each of these (ocr_gpu is optional: documents fall back to CPU).
ABLAGE_REQUIRED_QUEUES = env_list("ABLAGE_REQUIRED_QUEUES", ["default", "ocr_cpu", "notify"])
# /metrics: a bearer token, or a caller from these networks (CIDR); loopback by default.
ABLAGE_METRICS_TOKEN = env_str("ABLAGE_METRICS_TOKEN", "")
ABLAGE_METRICS_ALLOWED_NETWORKS = env_list("ABLAGE_METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])

# Every mail goes through notifications.EmailQueue; these only say how the worker hands it on.
# Without EMAIL_HOST (the embedded default) mails are written to the worker's console.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Ablage <ablage@localhost>")
# The right-hand side of generated Message-IDs; defaults to the host of SITE_URL.
ABLAGE_MESSAGE_ID_DOMAIN = env_str("ABLAGE_MESSAGE_ID_DOMAIN", "")
ABLAGE_EMAIL_MAX_ATTEMPTS = env_int("ABLAGE_EMAIL_MAX_ATTEMPTS", 5, minimum=1)
ABLAGE_RESULT_CACHE_MAX_AGE_DAYS = env_int("ABLAGE_RESULT_CACHE_MAX_AGE_DAYS", 180, minimum=1)
ABLAGE_NOTIFICATION_EXPIRY_DAYS = env_int("ABLAGE_NOTIFICATION_EXPIRY_DAYS", 90, minimum=1)

# Outgoing HTTP to user-configured URLs (webhooks, callbacks): see ablage/net.py.
ABLAGE_OUTGOING_ALLOWED_PORTS = env_int_list("ABLAGE_OUTGOING_ALLOWED_PORTS", [80, 443, 8080, 8443], minimum=1)
# Networks an admin deliberately opens (e.g. the ERP in the office LAN: "192.168.10.5/32").
ABLAGE_OUTGOING_ALLOWED_NETWORKS = env_network_list("ABLAGE_OUTGOING_ALLOWED_NETWORKS", [])
ABLAGE_WEBHOOK_TIMEOUT_SECONDS = env_float("ABLAGE_WEBHOOK_TIMEOUT_SECONDS", 5.0, minimum=0.5, maximum=30.0)

# Optional model-assisted extraction (extraction.llm): an OpenAI-compatible chat-completions server
# (vLLM, Ollama, llama.cpp server). Without ABLAGE_MODEL_URL the backend reports itself unavailable.
# The URL is the API base ("http://10.0.0.7:8000/v1"); "/chat/completions" is appended.
ABLAGE_MODEL_URL = env_str("ABLAGE_MODEL_URL", "")
ABLAGE_MODEL_NAME = env_str("ABLAGE_MODEL_NAME", "")
ABLAGE_MODEL_API_KEY = env_str("ABLAGE_MODEL_API_KEY", "")
ABLAGE_MODEL_TIMEOUT_SECONDS = env_float("ABLAGE_MODEL_TIMEOUT_SECONDS", 60.0, minimum=1.0, maximum=600.0)
ABLAGE_MODEL_MAX_ATTEMPTS = env_int("ABLAGE_MODEL_MAX_ATTEMPTS", 3, minimum=1)
ABLAGE_MODEL_MAX_OUTPUT_TOKENS = env_int("ABLAGE_MODEL_MAX_OUTPUT_TOKENS", 800, minimum=50)
# Send the page images along (only for models that accept images).
ABLAGE_MODEL_VISION = env_bool("ABLAGE_MODEL_VISION", False)
# The model server usually runs in the office network or on this machine, which the SSRF guard
# blocks: open exactly its address here ("127.0.0.1/32"). The URL's own port is always allowed.
ABLAGE_MODEL_ALLOWED_NETWORKS = env_network_list("ABLAGE_MODEL_ALLOWED_NETWORKS", [])
# Or a local model folder loaded with transformers (requirements/model.txt) on a GPU worker that
# consumes ABLAGE_MODEL_QUEUE; nothing is ever downloaded. Only one of URL and folder.
ABLAGE_MODEL_DIR = env_str("ABLAGE_MODEL_DIR", "")
ABLAGE_MODEL_ALLOW_CPU = env_bool("ABLAGE_MODEL_ALLOW_CPU", False)
ABLAGE_MODEL_QUEUE = env_choice("ABLAGE_MODEL_QUEUE", "extract", {"default", "ocr_gpu", "extract"})
if ABLAGE_MODEL_URL and ABLAGE_MODEL_DIR:
    raise ImproperlyConfigured("Set either ABLAGE_MODEL_URL or ABLAGE_MODEL_DIR, not both.")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.APIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every API view keeps APIKeyScopePermission: a key's scopes narrow what its user may do.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.api.permissions.APIKeyScopePermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "accounts.api.throttling.PerUserThrottle",
        "accounts.api.throttling.PerKeyThrottle",
        "accounts.api.throttling.PerAddressThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("API_RATE_USER", "1200/min"),
        "api_key": env_str("API_RATE_API_KEY", "600/min"),
        "anon": env_str("API_RATE_ANON", "60/min"),
    },
    "DEFAULT_PAGINATION_CLASS": "ablage.pagination.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ablage.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Ablage API",
    "DESCRIPTION": "Dokumentenerfassung und Archiv: Upload, Verarbeitung, Prüfung.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "DocumentStatusEnum": "documents.models.Document.Status",
        "DocumentSourceEnum": "documents.models.Document.Source",
        "WorkflowExecutionStatusEnum": "workflows.models.WorkflowExecution.Status",
        "WorkflowTriggerEnum": "workflows.models.Workflow.Trigger",
        "FieldSourceEnum": "documents.models.ExtractedField.Source",
    },
}

# Upload guardrails. DATA_UPLOAD_MAX_MEMORY_SIZE bounds non-file form data only.
ABLAGE_MAX_UPLOAD_BYTES = env_int("ABLAGE_MAX_UPLOAD_BYTES", 100 * 1024 * 1024, minimum=1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None
ABLAGE_MAX_PAGES = env_int("ABLAGE_MAX_PAGES", 100, minimum=1)
# A PDF declaring more objects than this is refused before pdfium parses it (object bombs).
ABLAGE_MAX_PDF_OBJECTS = env_int("ABLAGE_MAX_PDF_OBJECTS", 200_000, minimum=100)
# Optional virus scan of every incoming file through clamd's unix socket (documents.clamd).
# Fail-closed: while clamd cannot be reached, uploads are refused rather than taken unscanned.
ABLAGE_CLAMD_SOCKET = env_str("ABLAGE_CLAMD_SOCKET", "")
ABLAGE_CLAMD_FAIL_CLOSED = env_bool("ABLAGE_CLAMD_FAIL_CLOSED", True)
ABLAGE_CLAMD_TIMEOUT_SECONDS = env_int("ABLAGE_CLAMD_TIMEOUT_SECONDS", 30, minimum=1)
# Secrets stored in the database (mail passwords, webhook and TOTP secrets, secret settings)
# are encrypted with this Fernet key (system.crypto). The embedded install generates one into
# the data directory; the production layout (PostgreSQL) must be given one, because a key
# generated on one web host would not open what another host wrote. Old keys still decrypt
# until `manage.py rotate_secrets_key` has re-encrypted everything.
ABLAGE_FIELD_ENCRYPTION_KEY = env_str("ABLAGE_FIELD_ENCRYPTION_KEY", "")
if not ABLAGE_FIELD_ENCRYPTION_KEY:
    if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        raise ImproperlyConfigured(
            "ABLAGE_FIELD_ENCRYPTION_KEY (or ABLAGE_FIELD_ENCRYPTION_KEY_FILE) must be set with PostgreSQL; create one "
            "with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        )
    ABLAGE_FIELD_ENCRYPTION_KEY = persisted_fernet_key(DATA_DIR)
ABLAGE_FIELD_ENCRYPTION_OLD_KEYS = env_list("ABLAGE_FIELD_ENCRYPTION_OLD_KEYS", [])
fernet_keys_check(ABLAGE_FIELD_ENCRYPTION_KEY, ABLAGE_FIELD_ENCRYPTION_OLD_KEYS)
ABLAGE_RENDER_DPI = env_int("ABLAGE_RENDER_DPI", 300, minimum=72)
ABLAGE_OCR_LANGUAGES = env_str("ABLAGE_OCR_LANGUAGES", "deu+eng")
ABLAGE_TESSERACT_CMD = env_str("ABLAGE_TESSERACT_CMD", "tesseract")
# German word list for OCR post-correction (ocr.postcorrect); Debian package wngerman.
ABLAGE_SPELLING_WORDLIST = env_str("ABLAGE_SPELLING_WORDLIST", "/usr/share/dict/ngerman")
ABLAGE_OCR_TIMEOUT_SECONDS = env_int("ABLAGE_OCR_TIMEOUT_SECONDS", 180, minimum=5)
# Where the pipeline writes its temporary files (Tesseract's output, page spool, originals over
# 8 MB while their hash is checked). Empty: the system's temp directory (TMPDIR). A full work
# directory makes the job retry later (ablage.outages); it never yields a page without text.
ABLAGE_WORK_DIR = env_str("ABLAGE_WORK_DIR", "")
# Optional GPU OCR (requirements/gpu.txt). Models load only from this local folder, never from a hub.
ABLAGE_SURYA_MODEL_DIR = env_str("ABLAGE_SURYA_MODEL_DIR", "")
ABLAGE_SURYA_ALLOW_CPU = env_bool("ABLAGE_SURYA_ALLOW_CPU", False)
# Hand documents whose pages call for the GPU backend to the ocr_gpu queue when this worker lacks it.
ABLAGE_GPU_QUEUE_ENABLED = env_bool("ABLAGE_GPU_QUEUE_ENABLED", False)
ABLAGE_AUTO_APPROVE_THRESHOLD = env_float("ABLAGE_AUTO_APPROVE_THRESHOLD", 0.85, minimum=0.0, maximum=1.0)

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"})
LOG_FORMAT = env_choice("ABLAGE_LOG_FORMAT", "json", {"json", "text"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "ablage.logs.ContextFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s]: %(message)s"},
        "json": {"()": "ablage.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # pypdf warns about every repaired cross-reference table; hostile and broken PDFs are our daily input.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "pypdf": {"level": "ERROR"}},
}
