"""The ledger of a fault scenario: every accepted upload, and what must hold for it afterwards.

A scenario records each document it got accepted (``Ledger.accept``), lets the faults
happen, waits until nothing is in flight any more (``Ledger.wait_drained``) and then
``Ledger.problems()`` lists every broken promise, one line each, so that a failing
assertion says what was lost, duplicated or left behind:

- every document is in exactly one terminal state: processed (review), approved, rejected
  with a reason, or dead with a reason and its attempts recorded;
- no job of it is still pending or running;
- its stored original still has the SHA-256 of the uploaded bytes;
- stored originals of the scenario's owner and document rows correspond one to one;
- a processed document has exactly one current OCR result and one set of extracted fields;
- every mail and webhook delivery for these documents ended delivered, and the receivers
  saw each id at least once and no id nobody queued: after de-duplication by id, each
  notification exactly once (a redelivery of the same id is what at-least-once means; a
  second id for one event would be a duplicate notification);
- the broker queues are empty.
"""

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field

from django.core.files.storage import default_storage

from documents.models import Document, ExtractedField, OCRResult, ProcessingJob

IN_FLIGHT = (Document.Status.QUEUED, Document.Status.PROCESSING)
# Review counts as an end state here: the pipeline is done, a person decides next.
SETTLED = (Document.Status.REVIEW, Document.Status.APPROVED, Document.Status.REJECTED, Document.Status.DEAD)
OPEN_JOB_STATUSES = (ProcessingJob.Status.PENDING, ProcessingJob.Status.RUNNING)


@dataclass
class Accepted:
    document_id: str
    filename: str
    sha256: str


@dataclass
class Ledger:
    owner: object
    entries: dict[str, Accepted] = field(default_factory=dict)

    def accept(self, document, data: bytes) -> None:
        key = str(document.id)
        assert key not in self.entries, f"document {key} accepted twice"
        self.entries[key] = Accepted(key, document.original_filename, hashlib.sha256(data).hexdigest())

    def documents(self):
        return Document.all_objects.filter(id__in=list(self.entries))

    def in_flight(self) -> list[str]:
        open_jobs = ProcessingJob.objects.filter(document_id__in=list(self.entries), status__in=OPEN_JOB_STATUSES)
        return sorted(
            {str(pk) for pk in self.documents().filter(status__in=IN_FLIGHT).values_list("id", flat=True)}
            | {str(pk) for pk in open_jobs.values_list("document_id", flat=True)}
        )

    def wait_drained(self, *, timeout: float, sweep=None, sweep_every: float = 5.0, interval: float = 0.5) -> None:
        """Wait until no document is in flight; ``sweep()`` is called every ``sweep_every`` seconds
        meanwhile (what celery beat does in production: the stuck-job and send-due sweeps)."""
        deadline = time.monotonic() + timeout
        next_sweep = time.monotonic() + sweep_every
        while True:
            left = self.in_flight()
            if not left:
                return
            if time.monotonic() > deadline:
                states = Counter(self.documents().values_list("status", flat=True))
                raise AssertionError(f"{len(left)} document(s) still in flight after {timeout:.0f} s: {dict(states)}")
            if sweep is not None and time.monotonic() >= next_sweep:
                sweep()
                next_sweep = time.monotonic() + sweep_every
            time.sleep(interval)

    def problems(self, *, smtp_messages=None, webhook_receiver=None, broker=None) -> list[str]:
        found = []
        documents = {str(document.id): document for document in self.documents()}
        missing = sorted(set(self.entries) - set(documents))
        found += [f"{pk}: accepted, but its row is gone" for pk in missing]
        for pk, document in documents.items():
            found += [f"{pk} ({document.original_filename}): {problem}" for problem in self._problems_of(document)]
        found += self._storage_problems(documents)
        if smtp_messages is not None:
            found += self._mail_problems(smtp_messages)
        if webhook_receiver is not None:
            found += self._webhook_problems(webhook_receiver)
        if broker is not None:
            found += [f"broker: {name} still holds {count} message(s)" for name, count in broker.items() if count]
        return found

    def _problems_of(self, document) -> list[str]:
        problems = []
        entry = self.entries[str(document.id)]
        if document.deleted_at is not None:
            problems.append("in the trash")
        if document.status not in SETTLED:
            problems.append(f"not in an end state: {document.status}")
        if document.status in (Document.Status.REJECTED, Document.Status.DEAD) and not document.status_reason:
            problems.append(f"{document.status} without a reason")
        jobs = list(document.jobs.all())
        if not jobs:
            problems.append("no processing job")
        open_jobs = [job for job in jobs if job.status in OPEN_JOB_STATUSES]
        if open_jobs:
            problems.append(f"{len(open_jobs)} job(s) still {open_jobs[0].status}")
        if document.status == Document.Status.DEAD and not any(job.attempts for job in jobs):
            problems.append("dead without a recorded attempt")
        if document.sha256 != entry.sha256:
            problems.append("row SHA-256 differs from the uploaded bytes")
        try:
            with default_storage.open(document.storage_key, "rb") as handle:
                stored = hashlib.sha256(handle.read()).hexdigest()
        except FileNotFoundError:
            problems.append("original missing in storage")
        else:
            if stored != entry.sha256:
                problems.append("stored original differs from the uploaded bytes")
        if document.status in (Document.Status.REVIEW, Document.Status.APPROVED):
            current = OCRResult.objects.filter(document=document, is_current=True).count()
            if current != 1:
                problems.append(f"{current} current OCR results")
            names = Counter(ExtractedField.objects.filter(document=document).values_list("name", flat=True))
            if not names:
                problems.append("processed without extracted fields")
            problems += [f"field {name} stored {count} times" for name, count in names.items() if count > 1]
            completed = [job for job in jobs if job.status == ProcessingJob.Status.COMPLETED]
            if len(completed) != 1:
                problems.append(f"{len(completed)} completed jobs")
        return problems

    def _storage_problems(self, documents) -> list[str]:
        """Originals of this owner in storage against the owner's document rows, both ways."""
        stored = set(_walk(f"originals/{self.owner.pk}"))
        rows = set(Document.all_objects.filter(owner=self.owner).values_list("storage_key", flat=True))
        return [f"orphaned original in storage: {key}" for key in sorted(stored - rows)] + [
            f"row without its original: {key}" for key in sorted(rows - stored)
        ]

    def _mail_problems(self, smtp_messages) -> list[str]:
        from email import message_from_bytes

        from notifications.models import EmailQueue

        queued = EmailQueue.objects.filter(document_id__in=list(self.entries))
        expected = {mail.message_id: mail for mail in queued}
        received = Counter(
            message_from_bytes(envelope.original_content)["Message-ID"]
            for envelope in smtp_messages
            if envelope.original_content
        )
        problems = [
            f"mail {mail.message_id} to {mail.to_address} ended {mail.status}: {mail.last_error}"
            for mail in expected.values()
            if mail.status != EmailQueue.Status.SENT
        ]
        problems += [f"mail {message_id} never arrived" for message_id in sorted(set(expected) - set(received))]
        # A mail sent twice under one Message-ID is one notification after de-duplication; a
        # Message-ID no queued mail carries would be a second, separate notification.
        problems += [f"mail {message_id} was never queued" for message_id in sorted(set(received) - set(expected))]
        return problems

    def _webhook_problems(self, receiver) -> list[str]:
        from notifications import webhooks
        from notifications.models import WebhookDelivery

        deliveries = list(WebhookDelivery.objects.filter(document_id__in=list(self.entries)))
        expected = {webhooks.message_id(delivery): delivery for delivery in deliveries}
        problems = [
            f"webhook {delivery.event} {message_id} ended {delivery.status}: {delivery.last_error}"
            for message_id, delivery in expected.items()
            if delivery.status != WebhookDelivery.Status.DELIVERED
        ]
        # The receiver de-duplicates by webhook-id (as Standard Webhooks asks receivers to).
        processed = set(receiver.processed_ids)
        problems += [f"webhook {message_id} never processed" for message_id in sorted(set(expected) - processed)]
        problems += [f"webhook {message_id} was never queued" for message_id in sorted(processed - set(expected))]
        # One event, one id: a second delivery row for the same event would carry a new id.
        events = Counter((delivery.endpoint_id, delivery.document_id, delivery.event) for delivery in deliveries)
        problems += [f"webhook event {key[2]} queued {count} times" for key, count in events.items() if count > 1]
        return problems


def _walk(prefix: str) -> list[str]:
    try:
        folders, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return []
    keys = [f"{prefix}/{name}" for name in files]
    for folder in folders:
        keys += _walk(f"{prefix}/{folder}")
    return keys


def redis_queue_lengths(client, prefix: str) -> dict[str, int]:
    """Messages waiting in each queue list (kombu keeps one list per queue and priority step)
    plus those delivered but not acknowledged, under the broker's key prefix."""
    lengths = {}
    for key in client.scan_iter(match=f"{prefix}*"):
        name = key.decode(errors="replace")[len(prefix) :]
        kind = client.type(key)
        if kind == b"list":
            lengths[name] = client.llen(key)
        elif name == "unacked":
            lengths[name] = client.hlen(key)
    return lengths
