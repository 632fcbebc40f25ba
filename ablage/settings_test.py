"""Test overrides.

The suite runs on PostgreSQL by default and on SQLite with ``ABLAGE_TEST_DB=sqlite``. Values
chosen here are put into ``os.environ`` so that worker processes a test starts (Celery) load
the same data directory, database and broker.
"""

import os
import tempfile
import uuid
from pathlib import Path

# Each test process (each xdist worker) gets its own data directory (files, file broker) and
# broker key prefix. The xdist controller loads these settings too and its environment is
# inherited by the workers, so "already set" is judged per worker id; processes a test starts
# inherit the worker's values and keep them.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
if os.environ.get("ABLAGE_TEST_ENV_FOR") != _worker:
    os.environ["ABLAGE_TEST_ENV_FOR"] = _worker
    os.environ["ABLAGE_DATA_DIR"] = tempfile.mkdtemp(prefix=f"ablage-test-data-{_worker}-")
    os.environ["ABLAGE_TEST_BROKER_PREFIX"] = f"ablage-test-{uuid.uuid4().hex[:12]}-{_worker}:"

from ablage.env import database_from_url, env_choice, env_str  # noqa: E402
from ablage.settings import *  # noqa: E402, F403
from ablage.settings import BASE_DIR, BROKER_DIR, DATA_DIR, filesystem_broker_options  # noqa: E402

_backend = env_choice("ABLAGE_TEST_DB", "postgres", {"postgres", "sqlite"})
# A worker process started by a test connects to the test database itself, not to the
# database pytest-django derives the test database's name from.
_exact_name = env_str("ABLAGE_TEST_DB_NAME")
if _backend == "postgres":
    DATABASES = {
        "default": database_from_url(
            env_str("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ablage"), base_dir=BASE_DIR
        )
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES = {"default": database_from_url(f"sqlite:///{Path(DATA_DIR) / 'test.sqlite3'}", base_dir=BASE_DIR)}
    DATABASES["default"]["TEST"] = {"NAME": str(Path(DATA_DIR) / "test-db.sqlite3")}
if _exact_name:
    DATABASES["default"]["NAME"] = _exact_name

# Broker: Redis (real connection) next to PostgreSQL, the file-system broker of the embedded
# default next to SQLite. A per-run key prefix keeps parallel test processes apart.
_broker = env_choice("ABLAGE_TEST_BROKER", "redis" if _backend == "postgres" else "filesystem", {"redis", "filesystem"})
if _broker == "redis":
    CELERY_BROKER_URL = env_str("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "global_keyprefix": os.environ["ABLAGE_TEST_BROKER_PREFIX"],
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(BROKER_DIR)

# The live server serves static files from the finders; no collectstatic in tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Mail stays in memory unless a test points a worker at its SMTP server on loopback (EMAIL_HOST).
if not EMAIL_HOST:  # noqa: F405
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
