"""Test overrides. The suite runs on PostgreSQL by default and on SQLite with ABLAGE_TEST_DB=sqlite."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("ABLAGE_DATA_DIR", tempfile.mkdtemp(prefix="ablage-test-data-"))

from ablage.env import database_from_url, env_choice, env_str  # noqa: E402
from ablage.settings import *  # noqa: E402,F403
from ablage.settings import BASE_DIR, DATA_DIR  # noqa: E402

_backend = env_choice("ABLAGE_TEST_DB", "postgres", {"postgres", "sqlite"})
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

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
