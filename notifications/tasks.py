"""Workers of the ``notify`` queue (routed in settings). Rows carry the state: tasks take ids and are idempotent."""

from celery import shared_task

from notifications import email, services, webhooks


@shared_task(ignore_result=True)
def send_email(email_id: str) -> None:
    """Send one queued mail if it is due (a second delivery of this message finds it claimed and stops)."""
    email.email_send(email_id=email_id)


@shared_task(ignore_result=True)
def deliver_webhook(delivery_id: str) -> None:
    webhooks.delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def send_due() -> int:
    """Periodic (beat, every minute): retries whose backoff has passed, mails held back by quiet hours."""
    email.email_recover_stuck()
    webhooks.delivery_recover_stuck()
    count = 0
    for email_id in email.email_due_ids():
        count += email.email_send(email_id=email_id) is not None
    for delivery_id in webhooks.delivery_due_ids():
        count += webhooks.delivery_attempt(delivery_id=delivery_id) is not None
    return count


@shared_task(ignore_result=True)
def send_digests() -> int:
    """Periodic (beat): hourly and daily summaries whose period is over."""
    return email.digest_send_due()


@shared_task(ignore_result=True)
def purge_expired() -> int:
    """Periodic (beat, hourly): notifications past their expiry disappear."""
    return services.notifications_purge_expired()
