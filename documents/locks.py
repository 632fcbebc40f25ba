"""Run a job at most once at a time, across processes and machines, and survive the runner's death.

A row status cannot tell a live run from a dead one (a SIGKILLed worker leaves its job
"running"), so the run holds a lock that the operating system or the database releases when
the process dies: a PostgreSQL session advisory lock (the connection closes with the
process), or on SQLite — the single-machine embedded install — an flock on a file.
"""

import fcntl
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection


def _advisory_key(name: str) -> int:
    # 63-bit signed key from a stable hash (Python's hash() is salted per process).
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(name: str):
    """Yield True when this process holds the lock ``name``, False when another holder is alive."""
    if connection.vendor == "postgresql":
        key = _advisory_key(name)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            acquired = cursor.fetchone()[0]
        try:
            yield acquired
        finally:
            if acquired:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    folder = Path(settings.DATA_DIR) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder / hashlib.sha256(name.encode()).hexdigest(), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)
