import logging
from contextlib import suppress

from celery import shared_task

from ablage.errors import DATABASE_UNAVAILABLE
from documents import services
from ocr.errors import TransientOCRError

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientOCRError, *DATABASE_UNAVAILABLE),
    retry_backoff=10,
    retry_backoff_max=300,
    # No full jitter: Celery's would draw each wait from 0..backoff, so a passing outage (a full
    # work directory, the store or database restarting) could use up every attempt within
    # seconds; 10, 20, 40 s give it over a minute. The sweep resends what is left after that.
    retry_jitter=False,
    max_retries=3,
)
def process_document(self, job_id: str) -> None:
    """Run the pipeline for one ProcessingJob (idempotent; see ``documents.services.job_run``)."""
    # The queue this delivery came from: a GPU worker must not hand the job on again.
    queue = (self.request.delivery_info or {}).get("routing_key") or "ocr_cpu"
    services.job_run(job_id=job_id, queue=queue)


@shared_task(ignore_result=True)
def review_queue_refresh() -> int:
    """Periodic (celery beat): SLA proximity grows with time, so priorities drift."""
    from documents.review_queue import review_queue_refresh_priorities, review_release_expired

    review_release_expired()
    return review_queue_refresh_priorities()


@shared_task(ignore_result=True)
def recover_stale_jobs() -> int:
    """Periodic (celery beat): re-send jobs whose worker or message was lost."""
    return services.jobs_recover_stale()


@shared_task(ignore_result=True)
def scheduled_export(target: str = "buchhaltung", days: int = 1, status: str = "approved") -> int:
    """Periodic (ScheduledTask with kwargs): approved documents to the export folder, Parquet + JSON."""
    from documents.exports.services import scheduled_export as run

    return len(run(target=target, days=days, status=status))


@shared_task(ignore_result=True)
def poll_mail_accounts() -> int:
    """Periodic (celery beat): one task per active mailbox, so that one slow server holds up no other."""
    from documents.ingest import intake_has_room
    from documents.models import MailAccount

    if not intake_has_room():
        # Under overload the mail stays unread on the server and is fetched on a later poll.
        logger.info("Pipeline full: mailboxes are polled again once the queue has room")
        return 0
    account_ids = list(MailAccount.objects.filter(active=True).values_list("id", flat=True))
    for account_id in account_ids:
        poll_mail_account.delay(str(account_id))
    return len(account_ids)


@shared_task(ignore_result=True)
def poll_mail_account(account_id: str) -> None:
    from ablage.errors import ApplicationError
    from documents.mail.services import mail_account_poll
    from documents.models import MailAccount

    account = MailAccount.objects.filter(id=account_id, active=True).first()
    if account is None:
        return
    # A refusal is recorded on the account (last_error); the next poll tries again.
    with suppress(ApplicationError):
        mail_account_poll(account=account)


@shared_task(ignore_result=True)
def result_cache_prune() -> int:
    """Periodic (daily): drop superseded, orphaned and long-unused result-cache entries."""
    from documents.result_cache import result_cache_prune as prune

    result = prune()
    logger.info(
        "Result cache pruned: %s superseded, %s orphaned, %s unused",
        result.superseded,
        result.orphaned,
        result.unused,
    )
    return result.total


@shared_task(ignore_result=True)
def retention_proposals() -> int:
    """Periodic (monthly): documents past retention are proposed to the administrators for deletion."""
    from documents.retention_services import retention_proposals_notify

    return retention_proposals_notify()
