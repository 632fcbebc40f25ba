"""E-mail intake against a real IMAP server: a throwaway dovecot on loopback, one mailbox per test."""

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.urls import reverse

from ablage.errors import ApplicationError
from ablage.testing import bad_files
from documents.mail import imap
from documents.mail.services import mail_account_poll, mail_account_set_password, mail_account_test_connection
from documents.models import Document, MailAccount, MailMessage
from documents.tasks import poll_mail_account
from tests.helpers import stored_column as _stored_column

pytestmark = pytest.mark.django_db

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
MAILBOXES = 30
PASSWORD = "Postfach-geheim-1"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
default_internal_user = {internal_user}
default_login_user = {login_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={root}/mail/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass
class ImapServer:
    host: str
    port: int
    root: Path

    users: list[str]
    imaps_port: int = 0

    def add_user(self) -> str:
        """A fresh, empty mailbox for one test."""
        return self.users.pop()

    def connect(self, user: str) -> imaplib.IMAP4:
        connection = imaplib.IMAP4(self.host, self.port, timeout=10)
        connection.login(user, PASSWORD)
        return connection


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def dovecot_running(*, certificate: Path | None = None, key: Path | None = None):
    """A dovecot on loopback with MAILBOXES empty mailboxes; with ``certificate`` and ``key`` it
    also speaks IMAPS on ``imaps_port`` and offers STARTTLS on ``port``."""
    if not Path(DOVECOT).exists():
        pytest.skip("dovecot is not installed (Debian package dovecot-imapd; `make test` installs it)")
    # Not pytest's tmp_path: its 0700 parents would keep dovecot's unprivileged processes out.
    root = Path(tempfile.mkdtemp(prefix="ablage-dovecot-"))
    root.chmod(0o755)
    (root / "mail").mkdir()
    # All mailboxes up front: dovecot notices a changed passwd-file by its mtime in seconds only.
    users = [f"u{uuid.uuid4().hex[:10]}" for _ in range(MAILBOXES)]
    (root / "passwd").write_text("".join(f"{name}:{{PLAIN}}{PASSWORD}::::::\n" for name in users))
    if os.geteuid() == 0:
        internal, login, mail_user = "dovecot", "dovenull", pwd.getpwnam("dovecot")
    else:
        me = pwd.getpwuid(os.geteuid()).pw_name
        internal, login, mail_user = me, me, pwd.getpwuid(os.geteuid())
    os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
    port = _free_port()
    imaps_port = _free_port() if certificate else 0
    ssl = f"ssl = yes\nssl_cert = <{certificate}\nssl_key = <{key}" if certificate else "ssl = no"
    config = root / "dovecot.conf"
    config.write_text(
        CONFIG.format(
            root=root,
            port=port,
            imaps_port=imaps_port,
            ssl=ssl,
            internal_user=internal,
            login_user=login,
            mail_user=mail_user.pw_name,
            mail_group=mail_user.pw_gid,
        )
    )
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    for listening in [port, imaps_port] if imaps_port else [port]:
        while True:
            try:
                socket.create_connection(("127.0.0.1", listening), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    output = process.stdout.read().decode(errors="replace")
                    log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                    pytest.fail(f"dovecot did not start: {output}\n{log}")
                time.sleep(0.1)
    try:
        yield ImapServer("127.0.0.1", port, root, users, imaps_port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        process.stdout.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def imap_server():
    with dovecot_running() as server:
        yield server


@pytest.fixture
def mailbox_user(imap_server):
    return imap_server.add_user()


@pytest.fixture
def account(imap_server, mailbox_user, owner):
    account = MailAccount(
        name="Rechnungseingang",
        owner=owner,
        host=imap_server.host,
        port=imap_server.port,
        security=MailAccount.Security.NONE,
        username=mailbox_user,
    )
    mail_account_set_password(account=account, password=PASSWORD)
    account.save()
    return account


def _mail(*, sender="Buchhaltung Muster GmbH <rechnung@muster-gmbh.de>", subject="Rechnung RE-2026-0042", files=()):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "eingang@example.com"
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@muster-gmbh.de>"
    message["Date"] = "Mon, 23 Nov 2026 08:00:00 +0100"
    message.set_content("Sehr geehrte Damen und Herren,\nanbei unsere Rechnung.\n")
    for name, content, maintype, subtype in files:
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return message


def _append(imap_server, user, message, folder="INBOX") -> None:
    connection = imap_server.connect(user)
    try:
        kind, data = connection.append(imap.mailbox_name(folder), None, None, message.as_bytes())
        assert kind == "OK", data
    finally:
        connection.logout()


def _flags_and_count(imap_server, user, folder="INBOX") -> tuple[int, int]:
    """(all mails, unseen mails) in ``folder``."""
    connection = imap_server.connect(user)
    try:
        connection.select(imap.mailbox_name(folder), readonly=True)
        total = len(connection.uid("SEARCH", None, "ALL")[1][0].split())
        unseen = len(connection.uid("SEARCH", None, "UNSEEN")[1][0].split())
        return total, unseen
    finally:
        connection.logout()


def test_it_turns_each_attachment_into_a_document_with_sender_and_subject(
    imap_server, mailbox_user, account, born_digital_pdf, scanned_png, owner
):
    message = _mail(
        files=[
            ("Rechnung RE-2026-0042.pdf", born_digital_pdf, "application", "pdf"),
            ("Lieferschein.png", scanned_png, "image", "png"),
        ]
    )
    message.add_attachment(b"\x89PNG\r\n\x1a\nlogo", maintype="image", subtype="png", disposition="inline")
    _append(imap_server, mailbox_user, message)

    result = mail_account_poll(account=account)

    assert (result.taken, result.documents, result.refused) == (1, 2, 0)
    documents = list(Document.objects.filter(owner=owner).order_by("original_filename"))
    assert [document.original_filename for document in documents] == ["Lieferschein.png", "Rechnung RE-2026-0042.pdf"]
    for document in documents:
        assert document.source == Document.Source.EMAIL
        assert document.source_reference == "rechnung@muster-gmbh.de"
        assert document.metadata["email"]["subject"] == "Rechnung RE-2026-0042"
        assert document.metadata["email"]["message_id"] == message["Message-ID"]
        assert "Muster GmbH" in document.metadata["email"]["from"]
        assert document.jobs.count() == 1
    record = MailMessage.objects.get(account=account)
    assert set(record.documents.all()) == set(documents)
    assert _flags_and_count(imap_server, mailbox_user) == (1, 0)  # kept, marked seen
    account.refresh_from_db()
    assert account.last_polled_at is not None
    assert account.last_error == ""


def test_it_never_takes_a_mail_twice_even_when_marking_it_failed(
    imap_server, mailbox_user, account, born_digital_pdf, monkeypatch
):
    _append(imap_server, mailbox_user, _mail(files=[("a.pdf", born_digital_pdf, "application", "pdf")]))

    def broken_store(connection, uid):
        raise imap.MailboxError("Verbindung abgebrochen")

    monkeypatch.setattr(imap, "mark_seen", broken_store)
    with pytest.raises(ApplicationError, match="Verbindung abgebrochen"):
        mail_account_poll(account=account)
    assert Document.objects.count() == 1
    assert _flags_and_count(imap_server, mailbox_user) == (1, 1)  # still unseen on the server
    monkeypatch.undo()

    result = mail_account_poll(account=account)

    assert (result.taken, result.remarked) == (0, 1)
    assert Document.objects.count() == 1
    assert _flags_and_count(imap_server, mailbox_user) == (1, 0)


def test_it_leaves_mails_that_do_not_pass_the_filters_untouched(imap_server, mailbox_user, account, born_digital_pdf):
    account.sender_filter = "muster-gmbh.de"
    account.subject_filter = "rechnung"
    account.save()
    pdf = [("a.pdf", born_digital_pdf, "application", "pdf")]
    _append(imap_server, mailbox_user, _mail(sender="newsletter@shop.example", files=pdf))
    _append(imap_server, mailbox_user, _mail(subject="Angebot 17", files=pdf))
    _append(imap_server, mailbox_user, _mail(subject="Ihre RECHNUNG 2026-11", files=pdf))

    result = mail_account_poll(account=account)

    assert result.taken == 1
    assert Document.objects.get().metadata["email"]["subject"] == "Ihre RECHNUNG 2026-11"
    assert _flags_and_count(imap_server, mailbox_user) == (3, 2)


def test_it_moves_processed_mails_into_a_folder_it_creates(imap_server, mailbox_user, account, scanned_png):
    account.processed_action = MailAccount.ProcessedAction.MOVE
    account.processed_folder = "Verarbeitet – Belege & Co"
    account.save()
    _append(imap_server, mailbox_user, _mail(files=[("scan.png", scanned_png, "image", "png")]))

    mail_account_poll(account=account)

    assert Document.objects.count() == 1
    assert _flags_and_count(imap_server, mailbox_user) == (0, 0)
    assert _flags_and_count(imap_server, mailbox_user, "Verarbeitet – Belege & Co")[0] == 1


def test_it_records_refused_attachments_and_still_marks_the_mail(imap_server, mailbox_user, account):
    files = [
        ("Verträge.zip", b"PK\x03\x04 not really a document", "application", "octet-stream"),
        ("leer.pdf", b"", "application", "pdf"),
    ]
    _append(imap_server, mailbox_user, _mail(files=files))

    result = mail_account_poll(account=account)

    assert (result.taken, result.documents, result.refused) == (1, 0, 2)
    assert not Document.all_objects.exists()
    errors = [entry["error"] for entry in MailMessage.objects.get().results]
    assert errors[0] == "„Verträge.zip“: ZIP-Archive werden nicht angenommen. Bitte die Dateien einzeln hochladen."
    assert errors[1] == "„leer.pdf“ ist leer."
    assert _flags_and_count(imap_server, mailbox_user) == (1, 0)


def test_it_records_a_refused_login_on_the_account(imap_server, account):
    mail_account_set_password(account=account, password="falsch")
    account.save()

    with pytest.raises(ApplicationError) as refusal:
        mail_account_poll(account=account)

    assert refusal.value.message.startswith(f"Anmeldung als {account.username} abgelehnt")
    account.refresh_from_db()
    assert account.last_error.startswith(f"Anmeldung als {account.username} abgelehnt")


def test_it_polls_active_accounts_from_the_task_and_skips_inactive_ones(
    imap_server, mailbox_user, account, born_digital_pdf
):
    _append(imap_server, mailbox_user, _mail(files=[("a.pdf", born_digital_pdf, "application", "pdf")]))
    MailAccount.objects.filter(id=account.id).update(active=False)
    poll_mail_account(str(account.id))
    assert not Document.objects.exists()

    MailAccount.objects.filter(id=account.id).update(active=True)
    poll_mail_account(str(account.id))

    assert Document.objects.get().source == Document.Source.EMAIL


def test_it_tests_the_connection(imap_server, mailbox_user, account, born_digital_pdf):
    _append(imap_server, mailbox_user, _mail(files=[("a.pdf", born_digital_pdf, "application", "pdf")]))

    assert mail_account_test_connection(account=account) == "Verbindung in Ordnung, 1 ungelesene Mails in „INBOX“."
    assert _flags_and_count(imap_server, mailbox_user) == (1, 1)  # testing takes nothing


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("chef@example.com", "Passwort-12345"))
    return client


def test_it_stores_the_password_encrypted_and_never_shows_it_again(admin_client, imap_server, mailbox_user, owner):
    response = admin_client.post(
        reverse("admin:documents_mailaccount_add"),
        {
            "name": "Eingang",
            "owner": owner.pk,
            "active": "on",
            "host": imap_server.host,
            "port": imap_server.port,
            "security": "none",
            "username": mailbox_user,
            "password": PASSWORD,
            "folder": "INBOX",
            "intake": "attachments",
            "processed_action": "seen",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account = MailAccount.objects.get()
    assert account.imap_password == PASSWORD
    stored = _stored_column(account, "imap_password")
    assert PASSWORD not in stored

    page = admin_client.get(reverse("admin:documents_mailaccount_change", args=[account.id])).content.decode()
    assert PASSWORD not in page
    assert stored not in page

    tested = admin_client.post(
        reverse("admin:documents_mailaccount_changelist"),
        {"action": "test_connection", "_selected_action": [account.id]},
        follow=True,
    )
    assert "Eingang: Verbindung in Ordnung, 0 ungelesene Mails in „INBOX“." in tested.content.decode()


def test_it_keeps_the_stored_password_when_the_field_is_left_empty(admin_client, account):
    data = {
        "name": "Umbenannt",
        "owner": account.owner.pk,
        "active": "on",
        "host": account.host,
        "port": account.port,
        "security": "none",
        "username": account.username,
        "password": "",
        "folder": "INBOX",
        "intake": "attachments",
        "processed_action": "move",
        "processed_folder": "",
    }
    refused = admin_client.post(reverse("admin:documents_mailaccount_change", args=[account.id]), data)
    assert "Zum Verschieben bitte einen Zielordner angeben." in refused.content.decode()

    data["processed_action"] = "seen"
    saved = admin_client.post(reverse("admin:documents_mailaccount_change", args=[account.id]), data)

    assert saved.status_code == 302
    account.refresh_from_db()
    assert account.name == "Umbenannt"
    assert account.imap_password == PASSWORD


def test_it_encodes_folder_names_as_modified_utf7():
    assert imap.mailbox_name("INBOX") == '"INBOX"'
    assert imap.mailbox_name("Geprüft & erledigt") == '"Gepr&APw-ft &- erledigt"'  # RFC 3501, 5.1.3


def test_it_attaches_no_bad_file_catalogue_entry_silently(imap_server, mailbox_user, account):
    """Every crafted bad file arriving by mail is refused with its reason on record."""
    refused = {"encrypted_pdf", "corrupt_pdf", "unsupported_file_type", "image_too_large"}
    bad = [item for item in bad_files.all_bad_files() if item.reason in refused]
    _append(
        imap_server,
        mailbox_user,
        _mail(files=[(item.name, item.content, "application", "octet-stream") for item in bad]),
    )

    result = mail_account_poll(account=account)

    assert result.refused == len(bad)
    assert not Document.all_objects.exists()


def test_it_refuses_starttls_when_the_server_does_not_offer_it(imap_server, account):
    account.security = MailAccount.Security.STARTTLS
    account.save()

    with pytest.raises(ApplicationError, match=f"Der Server 127.0.0.1:{imap_server.port} bietet kein STARTTLS an"):
        mail_account_test_connection(account=account)


def test_it_takes_the_whole_mail_as_a_document_with_its_attachments_related(
    imap_server, mailbox_user, account, born_digital_pdf, owner
):
    account.intake = MailAccount.Intake.WHOLE_MAIL
    account.save()
    message = _mail(files=[("RE-2026-0042.pdf", born_digital_pdf, "application", "pdf")])
    _append(imap_server, mailbox_user, message)

    result = mail_account_poll(account=account)

    assert (result.taken, result.documents, result.refused) == (1, 2, 0)
    mail = Document.objects.get(owner=owner, mime_type="message/rfc822")
    assert mail.original_filename == "Rechnung RE-2026-0042.eml"
    assert mail.source == Document.Source.EMAIL
    assert mail.metadata["email"]["mailbox"] == "Rechnungseingang"
    assert mail.metadata["email"]["message_id"] == message["Message-ID"]
    attachment = Document.objects.get(owner=owner, mime_type="application/pdf")
    assert attachment.relations_from.get().target == mail
    assert set(MailMessage.objects.get(account=account).documents.all()) == {mail, attachment}
    assert _flags_and_count(imap_server, mailbox_user) == (1, 0)
