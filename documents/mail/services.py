"""Writes of e-mail intake: store a mailbox's password, test its connection, poll it.

A poll takes each new mail that passes the account's filters, ingests its attachments
(``source=email``), or the whole mail as an .eml where the account says so, and records
the mail as a ``MailMessage`` in the same transaction, keyed by (account, folder,
UIDVALIDITY, UID): a crash before the commit leaves nothing, a crash after it cannot take
the mail a second time. Only then is the mail marked or moved on the server;
a mail recorded but not yet marked is marked on the next poll.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ablage.errors import ApplicationError
from documents import locks
from documents.ingest import MAX_BATCH_FILES, IngestFile, document_ingest_batch
from documents.mail import imap
from documents.models import Document, MailAccount, MailMessage
from system.crypto import require_secret

logger = logging.getLogger(__name__)

# A mail this much larger than one upload may be cannot carry an acceptable attachment
# (base64 adds a third); it is recorded as refused instead of being downloaded.
_MAIL_SIZE_FACTOR = 1.4


def mail_account_set_password(*, account: MailAccount, password: str) -> None:
    """Set ``password`` on ``account`` (saved by the caller with the rest of the form; the column encrypts it)."""
    if not password:
        raise ApplicationError("Bitte ein Kennwort angeben.", code="password_required")
    account.imap_password = password


def _connect(account: MailAccount):
    return imap.mailbox_connect(
        host=account.host,
        port=account.port,
        security=account.security,
        username=account.username,
        password=require_secret(account.imap_password),
        ca_certificate=account.tls_ca_certificate,
    )


def mail_account_test_connection(*, account: MailAccount) -> str:
    """Log in, open the folder (read-only) and check the target folder; returns what was found."""
    try:
        with _connect(account) as connection:
            imap.folder_select(connection, account.folder, readonly=True)
            unseen = len(imap.uids_search(connection, unseen_only=True))
            if account.processed_action == MailAccount.ProcessedAction.MOVE and not imap.folder_exists(
                connection, account.processed_folder
            ):
                return (
                    f"Verbindung in Ordnung, {unseen} ungelesene Mails in „{account.folder}“. Der Zielordner "
                    f"„{account.processed_folder}“ fehlt noch und wird beim ersten Abruf angelegt."
                )
    except imap.MailboxError as exc:
        raise ApplicationError(str(exc), code="mailbox_error") from exc
    return f"Verbindung in Ordnung, {unseen} ungelesene Mails in „{account.folder}“."


@dataclass
class PollResult:
    """What one poll did: mails taken (with their documents) and mails only marked again."""

    taken: int = 0
    documents: int = 0
    refused: int = 0
    remarked: int = 0


def mail_account_poll(*, account: MailAccount) -> PollResult | None:
    """Take the new mails of ``account``; None when another process is polling it right now."""
    with locks.exclusive(f"mail-account:{account.id}") as held:
        if not held:
            return None
        result = PollResult()
        try:
            _poll(account, result)
        except Exception as exc:
            error = str(exc) if isinstance(exc, imap.MailboxError | ApplicationError) else f"Interner Fehler: {exc!r}"
            logger.warning("Polling mailbox %s failed: %s", account.id, error, exc_info=True)
            MailAccount.objects.filter(id=account.id).update(last_polled_at=timezone.now(), last_error=error[:2000])
            if isinstance(exc, imap.MailboxError):
                raise ApplicationError(error, code="mailbox_error") from exc
            raise
        MailAccount.objects.filter(id=account.id).update(last_polled_at=timezone.now(), last_error="")
        return result


def _poll(account: MailAccount, result: PollResult) -> None:
    move = account.processed_action == MailAccount.ProcessedAction.MOVE
    with _connect(account) as connection:
        if move:
            imap.folder_ensure(connection, account.processed_folder)
        validity = imap.folder_select(connection, account.folder)
        uids = imap.uids_search(connection, unseen_only=not move)
        recorded = set(
            MailMessage.objects.filter(
                account=account, folder=account.folder, uid_validity=validity, uid__in=uids
            ).values_list("uid", flat=True)
        )
        for header in imap.headers_fetch(connection, [uid for uid in uids if uid not in recorded]):
            if not _passes_filters(account, header):
                continue  # not ours: left untouched for the people reading this mailbox
            _take(connection, account, validity, header, result)
            recorded.add(header.uid)
        for uid in sorted(recorded):
            # Taken now or in an earlier poll that ended before marking it.
            if move:
                imap.move(connection, uid, account.processed_folder)
            else:
                imap.mark_seen(connection, uid)
        result.remarked = len(recorded) - result.taken


def _passes_filters(account: MailAccount, header: imap.MailHeader) -> bool:
    if account.sender_filter and account.sender_filter.casefold() not in header.sender.casefold():
        return False
    return not (account.subject_filter and account.subject_filter.casefold() not in header.subject.casefold())


def _take(connection, account: MailAccount, validity: int, header: imap.MailHeader, result: PollResult) -> None:
    files, results = [], []
    if header.size > settings.ABLAGE_MAX_UPLOAD_BYTES * _MAIL_SIZE_FACTOR:
        results.append(
            {
                "filename": "",
                "error": f"Die Mail ist zu groß ({header.size / 1_048_576:.1f} MB) und wurde nicht gelesen.",
            }
        )
    elif account.intake == MailAccount.Intake.WHOLE_MAIL:
        raw = imap.message_fetch_raw(connection, header.uid)
        # One .eml: documents.ingest renders its text and takes its attachments as related documents.
        files.append(
            IngestFile(
                filename=f"{header.subject[:150] or 'E-Mail'}.eml",
                read=lambda: raw,
                source_reference=header.sender_address,
                metadata={"email": {"mailbox": account.name}},
            )
        )
    else:
        message = imap.message_fetch(connection, header.uid)
        for filename, payload in imap.attachments(message):
            files.append(
                IngestFile(
                    filename=filename,
                    read=lambda payload=payload: payload,
                    # The supplier match reads the sender address from here (documents.services).
                    source_reference=header.sender_address,
                    metadata={
                        "email": {
                            "from": header.sender[:500],
                            "subject": header.subject[:500],
                            "message_id": header.message_id[:500],
                            "date": header.date[:100],
                            "mailbox": account.name,
                        }
                    },
                )
            )
    with transaction.atomic():
        record = MailMessage.objects.create(
            account=account,
            folder=account.folder,
            uid_validity=validity,
            uid=header.uid,
            message_id=header.message_id[:998],
            sender=header.sender[:998],
            subject=header.subject[:998],
        )
        documents = []
        for start in range(0, len(files), MAX_BATCH_FILES):
            for outcome in document_ingest_batch(
                owner=account.owner, files=files[start : start + MAX_BATCH_FILES], source=Document.Source.EMAIL
            ):
                if outcome.document is not None:
                    documents.append(outcome.document)
                    results.append({"filename": outcome.filename, "document": str(outcome.document.id)})
                    # A whole mail's attachments: documents of this mail too, refused ones counted.
                    for attachment in outcome.document.metadata.get("email", {}).get("attachments", []):
                        results.append(attachment)
                        if "document" in attachment:
                            documents.append(Document.objects.get(id=attachment["document"]))
                else:
                    results.append({"filename": outcome.filename, "error": outcome.refusal.message})
        record.results = results
        record.save(update_fields=["results"])
        record.documents.set(documents)
    result.taken += 1
    result.documents += len(documents)
    result.refused += sum(1 for entry in results if "error" in entry)
