import json
import time
from datetime import time as clock
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from documents import services as document_services
from documents.models import Document
from monitoring.models import AuditLog
from system.models import FeatureFlag, ScheduledTask, SystemConfig
from system.scheduling import scheduled_task_run, scheduled_tasks_sync
from system.selectors import config_cache_invalidate, feature_enabled

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin@example.com", "x")


def test_it_changes_a_value_in_the_settings_screen_with_validation_and_audit(client, admin_user):
    client.force_login(admin_user)
    page = client.get("/einstellungen/").content.decode()
    assert "extraction.quality_sample_rate" in page
    response = client.post(
        "/einstellungen/konfiguration/extraction.quality_sample_rate/", {"value": "0,2"}, follow=True
    )
    assert "gespeichert" in response.content.decode()
    assert SystemConfig.objects.get(key="extraction.quality_sample_rate").value == 0.2
    assert AuditLog.objects.filter(action="config.set", actor=admin_user).exists()

    response = client.post("/einstellungen/konfiguration/extraction.quality_sample_rate/", {"value": "7"}, follow=True)
    assert "extraction.quality_sample_rate" in response.content.decode()
    assert SystemConfig.objects.get(key="extraction.quality_sample_rate").value == 0.2


def test_it_never_shows_a_secret_and_keeps_it_on_an_empty_submit(client, admin_user):
    SystemConfig.objects.create(key="mail.imap_passwort", value="streng-geheim", value_type="string", is_secret=True)
    client.force_login(admin_user)
    assert "streng-geheim" not in client.get("/einstellungen/").content.decode()
    client.post("/einstellungen/konfiguration/mail.imap_passwort/", {"value": ""})
    assert SystemConfig.objects.get(key="mail.imap_passwort").value == "streng-geheim"


def test_it_keeps_the_settings_screen_from_clerks(client, owner):
    client.force_login(owner)
    assert client.get("/einstellungen/").status_code == 403
    assert client.post("/einstellungen/konfiguration/ocr.render_dpi/", {"value": "72"}).status_code == 403


def test_it_syncs_scheduled_tasks_into_beat_and_records_runs(settings):
    settings.ABLAGE_SCHEDULE = {"probe": {"task": "monitoring.tasks.cleanup", "cron": "*/10 * * * *"}}
    scheduled_tasks_sync()
    entry = PeriodicTask.objects.get(name="ablage:probe")
    assert json.loads(entry.args) == ["probe"] and entry.crontab.minute == "*/10"
    assert scheduled_task_run("probe") == "succeeded"
    row = ScheduledTask.objects.get(name="probe")
    assert row.last_run_status == "succeeded" and row.last_run_at is not None

    row.task = "documents.does_not_exist.task"
    row.save()
    with pytest.raises(ModuleNotFoundError):
        scheduled_task_run("probe")
    row.refresh_from_db()
    assert row.last_run_status == "failed" and "does_not_exist" in row.last_error

    now = timezone.localtime()
    ScheduledTask.objects.filter(pk=row.pk).update(
        window_start=clock((now.hour + 2) % 24, 0), window_end=clock((now.hour + 3) % 24, 0)
    )
    assert scheduled_task_run("probe") == "skipped"
    ScheduledTask.objects.filter(pk=row.pk).update(enabled=False)
    scheduled_tasks_sync()
    assert not PeriodicTask.objects.filter(name="ablage:probe").exists()


def test_it_toggles_a_scheduled_task_from_the_screen(client, admin_user):
    scheduled_tasks_sync()
    client.force_login(admin_user)
    assert "recover-stale-jobs" in client.get("/einstellungen/").content.decode()
    client.post("/einstellungen/aufgaben/recover-stale-jobs/")
    assert not PeriodicTask.objects.filter(name="ablage:recover-stale-jobs").exists()


def test_it_bounds_feature_flags_in_time_and_by_rule(owner, outsider):
    flag = FeatureFlag.objects.create(
        key="review.neues_layout",
        enabled=True,
        starts_at=timezone.now() + timedelta(days=1),
        conditions={"rule": {"in": ["@example.com", {"var": "user.email"}]}},
    )
    assert not feature_enabled(flag.key, user=owner)
    FeatureFlag.objects.filter(pk=flag.pk).update(starts_at=timezone.now() - timedelta(days=1))
    assert feature_enabled(flag.key, user=owner)
    assert not feature_enabled(flag.key)  # no user, no rule to apply: off
    FeatureFlag.objects.filter(pk=flag.pk).update(conditions={"rule": {"==": [{"var": "user.email"}, "x@y.de"]}})
    assert not feature_enabled(flag.key, user=outsider)
    FeatureFlag.objects.filter(pk=flag.pk).update(ends_at=timezone.now())
    FeatureFlag.objects.filter(pk=flag.pk).update(conditions={})
    assert not feature_enabled(flag.key, user=owner)


def test_it_validates_a_flag_rule():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Unbekannter JSONLogic-Operator"):
        FeatureFlag(key="x", conditions={"rule": {"eval": ["1"]}}).full_clean()


@pytest.mark.e2e
def test_it_changes_a_running_workers_behaviour_within_a_minute(celery_worker, admin_user, owner, born_digital_pdf):
    """The config cache lives 30 s per process; a change made in the screen reaches the worker."""
    from tests.helpers import wait_for

    SystemConfig.objects.filter(key="extraction.quality_sample_rate").update(value=0.0)
    config_cache_invalidate()

    def process() -> Document:
        document = document_services.document_ingest(owner=owner, filename="rechnung.pdf", data=born_digital_pdf)
        wait_for(
            lambda: Document.objects.get(pk=document.pk).status in (*Document.TERMINAL_STATUSES, "review"), timeout=60
        )
        return Document.objects.get(pk=document.pk)

    first = process()
    assert first.status == Document.Status.APPROVED, first.decision_reason  # confident: approved outright

    client = Client()
    client.force_login(admin_user)
    client.post("/einstellungen/konfiguration/extraction.quality_sample_rate/", {"value": "1"})
    changed_at = time.monotonic()
    while True:
        document = process()
        if document.status == Document.Status.REVIEW:
            break
        assert time.monotonic() - changed_at < 60, "worker still uses the old value after a minute"
        time.sleep(5)
    assert "Stichprobe" in document.decision_reason or document.decision == "review"
