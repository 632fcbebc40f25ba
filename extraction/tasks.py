"""Background work of the learning loop: per supplier after a review, and on a schedule."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from extraction import services


@shared_task(
    ignore_result=True,
    autoretry_for=(services.LearningBusy,),
    retry_backoff=15,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)
def supplier_learn(supplier_id: str) -> int:
    """After a review (enqueued on commit, queue ``extract``): learn the supplier's rules; idempotent.

    A run that finds another one for the same supplier in progress retries later, so the review
    that enqueued it is still learned from.
    """
    from suppliers.models import Supplier

    if not Supplier.objects.filter(id=supplier_id).exists():
        return 0  # deleted meanwhile
    return len(services.supplier_learn(supplier_id=supplier_id))


@shared_task(ignore_result=True)
def classifier_train() -> bool:
    """Periodic (celery beat): retrain the document-type model when clerks confirmed new types."""
    return services.classifier_train() is not None


@shared_task(ignore_result=True)
def model_performance_compute() -> int:
    """Periodic (celery beat): yesterday's and today's quality figures (today's grow during the day)."""
    today = timezone.localdate()
    rows = services.model_performance_compute(day=today - timedelta(days=1))
    rows += services.model_performance_compute(day=today)
    return len(rows)


@shared_task(ignore_result=True)
def model_run_execute(run_id: str) -> str:
    """Ask the model for a document's fields (queue ``extract``); the run records every outcome.

    No Celery retries: the transport retries transient errors with backoff itself, and a run that
    failed stays failed (a clerk can ask again) rather than hammering a struggling server.
    """
    from extraction.llm.services import model_run_execute as execute
    from extraction.models import ModelRun

    try:
        run = execute(run_id=run_id)
    except Exception as exc:
        # Say so on the run at once rather than leave it "running" until it counts as lost.
        ModelRun.objects.filter(id=run_id, status=ModelRun.Status.RUNNING).update(
            status=ModelRun.Status.FAILED,
            message=f"Interner Fehler bei der Modellanfrage ({type(exc).__name__}).",
            finished_at=timezone.now(),
        )
        raise
    return run.status if run is not None else ""
