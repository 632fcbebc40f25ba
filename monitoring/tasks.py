from celery import shared_task

from monitoring import services


@shared_task(ignore_result=True)
def record_health() -> int:
    """Periodic: keep readiness results for the status history."""
    from monitoring.health import probes_record, readiness_probes

    probes = readiness_probes()
    probes_record(probes)
    return sum(1 for probe in probes if not probe.ok)


@shared_task(ignore_result=True)
def aggregate_backend_metrics() -> int:
    """Periodic (hourly): BackendMetric rows for the last two hours and their days."""
    return services.backend_metrics_aggregate()


@shared_task(ignore_result=True)
def check_accuracy_drift() -> int:
    """Periodic (daily): per-field accuracy against the week before; notify on a drop."""
    return len(services.accuracy_drift_notify())


@shared_task(ignore_result=True)
def cleanup() -> int:
    return services.monitoring_cleanup()


@shared_task(ignore_result=True)
def verify_archive() -> int:
    """Periodic (daily): audit chain and stored originals unchanged; admins hear of any finding."""
    return len(services.archive_verify_and_report())
