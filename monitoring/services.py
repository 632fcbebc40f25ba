import json


def audit_log_record(*, actor, action: str, obj, changes: dict | None = None, message: str = "", ip_address=None):
    """Append one audit entry for ``obj``. Call inside the transaction that makes the change."""
    from monitoring.audit import audit_append

    return audit_append(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        changes=json.loads(json.dumps(changes or {}, default=str)),
        message=message,
        ip_address=ip_address,
    )


def backend_metrics_aggregate(*, now=None) -> int:
    """Hourly and daily BackendMetric rows for the current and the previous hour's periods.

    Rewrites the rows of periods still open, so running it more often only refreshes them.
    """
    from datetime import timedelta

    from django.db.models import Sum
    from django.utils import timezone

    from documents.models import OCRResult, ProcessingJob
    from monitoring.models import BackendMetric
    from monitoring.selectors import percentile

    now = now or timezone.now()
    written = 0
    hour_start = now.replace(minute=0, second=0, microsecond=0)
    periods = []
    for start in (hour_start - timedelta(hours=1), hour_start):
        periods.append((start, start + timedelta(hours=1), timezone.localtime(start).hour))
    for day_start in {timezone.localtime(start).replace(hour=0) for start, _, _ in periods}:
        periods.append((day_start, day_start + timedelta(days=1), None))
    for start, end, hour in periods:
        jobs = ProcessingJob.objects.filter(finished_at__gte=start, finished_at__lt=end).exclude(backend="")
        for backend in sorted(set(jobs.values_list("backend", flat=True))):
            mine = jobs.filter(backend=backend)
            durations = [
                timings.get("ocr")
                for timings in mine.values_list("timings_ms", flat=True)
                if isinstance((timings or {}).get("ocr"), int | float)
            ]
            results = OCRResult.objects.filter(job__in=mine)
            totals = results.aggregate(pages=Sum("document__page_count"))
            characters = sum(len(text) for text in results.values_list("text", flat=True))
            confidences = [c for c in results.values_list("average_confidence", flat=True) if c is not None]
            ms = [int(value) for value in durations]
            BackendMetric.objects.update_or_create(
                backend=backend,
                metric_date=timezone.localtime(start).date(),
                hour_of_day=hour,
                defaults={
                    "total_requests": mine.count(),
                    "successful_requests": mine.filter(status=ProcessingJob.Status.COMPLETED).count(),
                    "failed_requests": mine.filter(status=ProcessingJob.Status.FAILED).count(),
                    "avg_processing_ms": int(sum(ms) / len(ms)) if ms else None,
                    "min_processing_ms": min(ms) if ms else None,
                    "max_processing_ms": max(ms) if ms else None,
                    "p50_processing_ms": percentile(ms, 0.5),
                    "p95_processing_ms": percentile(ms, 0.95),
                    "p99_processing_ms": percentile(ms, 0.99),
                    "avg_confidence": (sum(confidences) / len(confidences)) if confidences else None,
                    "pages_processed": totals["pages"] or 0,
                    "characters_extracted": characters,
                },
            )
            written += 1
    return written


def accuracy_drift_notify(*, now=None) -> list[str]:
    """Tell the administrators about each field whose accuracy dropped (once per field and week)."""
    from django.utils import timezone

    from accounts.selectors import alert_recipients
    from documents.models import Document
    from monitoring.selectors import accuracy_drift
    from notifications.models import Notification
    from system.models import SystemParameter

    now = now or timezone.now()
    week = now.isocalendar()
    drifted = [row for row in accuracy_drift(Document.objects.filter(deleted_at=None), now=now) if row["drifted"]]
    notified = []
    admins = list(alert_recipients())
    for row in drifted:
        key = f"monitoring.drift.{row['field']}.{week.year}-{week.week:02d}"
        _, created = SystemParameter.objects.get_or_create(
            key=key, defaults={"value": "notified", "category": "monitoring"}
        )
        if not created:
            continue
        Notification.objects.bulk_create(
            Notification(
                user=admin,
                type=Notification.Type.SYSTEM_ALERT,
                title=f"Genauigkeit gesunken: {row['field']}",
                message=(
                    f"{row['previous']:.1f} % → {row['current']:.1f} % "
                    f"(Woche gegen Vorwoche, {row['count']} geprüfte Felder)"
                ),
                link_url="/betrieb/",
            )
            for admin in admins
        )
        notified.append(row["field"])
    return notified


def monitoring_cleanup(*, now=None) -> int:
    from datetime import timedelta

    from django.db.models import Q
    from django.utils import timezone

    from monitoring.models import HealthCheck, WorkerHeartbeat
    from system.models import SystemParameter

    now = now or timezone.now()
    removed = HealthCheck.objects.filter(created_at__lt=now - timedelta(days=30)).delete()[0]
    removed += WorkerHeartbeat.objects.filter(last_seen_at__lt=now - timedelta(days=1)).delete()[0]
    removed += SystemParameter.objects.filter(Q(expires_at__lt=now)).delete()[0]
    return removed


def original_integrity_alert(*, document, kind: str, detail: str) -> None:
    """A worker found an original missing or altered: audited, ``archive_files`` down and
    administrators notified at once, not only at the next daily archive check.
    Call inside the transaction that ends the job."""
    from accounts.selectors import alert_recipients
    from monitoring.models import HealthCheck
    from notifications.models import Notification

    if kind == "missing":
        # A mismatch is already audited by the reader (documents.ingest.original_read_verified).
        audit_log_record(
            actor=None,
            action="document.original_missing",
            obj=document,
            changes={"storage_key": document.storage_key, "expected_sha256": document.sha256},
            message=detail,
        )
    HealthCheck.objects.create(
        component="archive_files",
        status=HealthCheck.Status.DOWN,
        details={"document": str(document.pk), "problem": kind, "found_by": "processing"},
        error_message=detail,
    )
    Notification.objects.bulk_create(
        Notification(
            user=admin,
            type=Notification.Type.SYSTEM_ALERT,
            title=f"Original beschädigt: {document.title}",
            message=detail,
            link_url="/admin/monitoring/healthcheck/",
        )
        for admin in alert_recipients()
    )


def archive_verify_and_report() -> list[str]:
    """Run both GoBD checks, keep the result as health rows, and notify admins of findings."""
    from accounts.selectors import alert_recipients
    from documents.integrity import archive_integrity_check
    from monitoring.audit import audit_chain_verify
    from monitoring.models import HealthCheck
    from notifications.models import Notification

    findings: list[str] = []
    audited, chain_problems = audit_chain_verify()
    findings += [f"Audit-Protokoll, Eintrag {p.sequence}: {p.detail}" for p in chain_problems]
    checked, file_problems = archive_integrity_check()
    findings += [f"„{p.title}“ ({p.what}): {p.detail}" for p in file_problems]
    for component, problems, count in (
        ("audit_chain", chain_problems, audited),
        ("archive_files", file_problems, checked),
    ):
        HealthCheck.objects.create(
            component=component,
            status=HealthCheck.Status.DOWN if problems else HealthCheck.Status.HEALTHY,
            details={"checked": count, "problems": len(problems)},
            error_message=f"{len(problems)} Befund(e)" if problems else "",
        )
    if findings:
        Notification.objects.bulk_create(
            Notification(
                user=admin,
                type=Notification.Type.SYSTEM_ALERT,
                title=f"Archivprüfung: {len(findings)} Befund(e)",
                message="\n".join(findings[:20]),
                link_url="/admin/monitoring/healthcheck/",
            )
            for admin in alert_recipients()
        )
    return findings
