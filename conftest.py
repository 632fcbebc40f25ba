"""Fixtures shared by every app's tests: the owner / teammate / outsider / reviewer set,
generated invoices with ground truth, and a real Celery worker process."""

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission

REPO = Path(__file__).resolve().parent


def _user(django_user_model, email, *permissions, **extra):
    user = django_user_model.objects.create_user(email, "Passwort-12345", **extra)
    for codename in permissions:
        app_label, code = codename.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=code))
    return user


@pytest.fixture
def owner(django_user_model):
    """A clerk who uploads documents."""
    return _user(
        django_user_model,
        "owner@example.com",
        "documents.add_document",
        "documents.view_document",
        display_name="Olga Owner",
    )


@pytest.fixture
def outsider(django_user_model):
    """Another clerk, who must never see the owner's documents."""
    return _user(django_user_model, "outsider@example.com", "documents.add_document", "documents.view_document")


@pytest.fixture
def reviewer(django_user_model):
    """A reviewer who sees all documents and may approve them."""
    group, _ = Group.objects.get_or_create(name="test-reviewers")
    for codename in ("review_document", "view_document", "change_document"):
        group.permissions.add(Permission.objects.get(content_type__app_label="documents", codename=codename))
    group.permissions.add(Permission.objects.get(content_type__app_label="accounts", codename="view_all_documents"))
    user = _user(django_user_model, "reviewer@example.com", display_name="Rita Reviewer")
    user.groups.add(group)
    return user


@pytest.fixture(scope="session")
def invoice_spec():
    from ablage.testing.invoices import random_invoice

    return random_invoice(7, layout="A")


@pytest.fixture(scope="session")
def born_digital_pdf(invoice_spec) -> bytes:
    from ablage.testing.invoice_pdf import render_pdf

    return render_pdf(invoice_spec, "A")


@pytest.fixture(scope="session")
def scanned_png(invoice_spec) -> bytes:
    from ablage.testing.scans import render_scan

    return render_scan(invoice_spec, "A", seed=7, rotation_deg=1.2, fmt="png")


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    log_path: Path

    def children(self) -> list[int]:
        """PIDs of the prefork pool processes."""
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return [int(pid) for pid in found.stdout.split()]


@pytest.fixture
def celery_worker(transactional_db, django_db_serialized_rollback):
    """A real ``celery worker`` process on the test database, broker and data directory.

    Needs committed data (hence ``transactional_db``); the serialized rollback puts the
    migration-seeded rows (roles, configuration) back for the tests that follow.
    Yields the worker's main process and the path of its log.
    """
    log_path = Path(settings.DATA_DIR) / f"worker-{uuid.uuid4().hex[:8]}.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ablage.settings_test",
        "ABLAGE_TEST_DB_NAME": str(settings.DATABASES["default"]["NAME"]),
        "ABLAGE_DATA_DIR": str(settings.DATA_DIR),
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "ablage",
        "worker",
        "-Q",
        ",".join(settings.ABLAGE_QUEUES),
        "--concurrency",
        "1",
        "--pool",
        "prefork",
        "-n",
        f"test-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"Celery worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    yield WorkerProcess(process, log_path)
    try:
        os.killpg(process.pid, signal.SIGTERM)  # a test may have stopped the worker already
        process.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    _close_other_sessions()


def _close_other_sessions():
    """Pool children of the worker can outlive it by a moment; the test database must be droppable."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
