"""The IMAP side of e-mail intake (RFC 3501, stdlib imaplib): connect, list, fetch, mark, move.

Only ``BODY.PEEK[...]`` is fetched, so that reading a mail never marks it as seen by itself;
a mail is marked or moved only after its documents are committed.
"""

import base64
import email
import email.policy
import imaplib
import re
import ssl
from contextlib import contextmanager, suppress
from dataclasses import dataclass

TIMEOUT_SECONDS = 30
_FETCH_HEAD = re.compile(rb"UID (\d+)")
_FETCH_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class MailboxError(Exception):
    """The server refused or broke off; ``str()`` says what, for the account's last error."""


def mailbox_name(name: str) -> str:
    """A folder name as IMAP wants it: modified UTF-7 (RFC 3501, 5.1.3), quoted."""
    encoded, pending = [], []

    def flush():
        if pending:
            chunk = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii").rstrip("=")
            encoded.append("&" + chunk.replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            encoded.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    text = "".join(encoded)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tls_context(ca_certificate: str = "") -> ssl.SSLContext:
    """Verifying TLS context: the system's CAs, or only ``ca_certificate`` (PEM) where given,
    for a mail server whose certificate comes from the company's own CA."""
    if ca_certificate.strip():
        return ssl.create_default_context(cadata=ca_certificate)
    return ssl.create_default_context()


def ca_certificate_check(pem: str) -> None:
    """Raise ``ValueError`` with a clerk-readable reason unless ``pem`` holds a usable certificate."""
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise ValueError("Das ist kein Zertifikat im PEM-Format (-----BEGIN CERTIFICATE-----).")
    try:
        ssl.create_default_context(cadata=pem)
    except ssl.SSLError as exc:
        raise ValueError(f"Das Zertifikat lässt sich nicht lesen: {exc.reason or exc}") from exc


def _tls_error(host: str, port: int, exc: ssl.SSLError) -> MailboxError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return MailboxError(
            f"Das Zertifikat des Servers {host}:{port} ist nicht vertrauenswürdig ({exc.verify_message}). "
            "Stammt es von einer eigenen Zertifizierungsstelle, deren Zertifikat (PEM) beim Postfach hinterlegen."
        )
    return MailboxError(f"Verschlüsselte Verbindung zu {host}:{port} fehlgeschlagen: {exc.reason or exc}")


@contextmanager
def mailbox_connect(*, host: str, port: int, security: str, username: str, password: str, ca_certificate: str = ""):
    """A logged-in connection; certificates (and the host name) are verified for SSL and STARTTLS."""
    connection = None
    try:
        if security == "ssl":
            connection = imaplib.IMAP4_SSL(host, port, ssl_context=tls_context(ca_certificate), timeout=TIMEOUT_SECONDS)
        else:
            connection = imaplib.IMAP4(host, port, timeout=TIMEOUT_SECONDS)
            if security == "starttls":
                if "STARTTLS" not in connection.capabilities:
                    raise MailboxError(f"Der Server {host}:{port} bietet kein STARTTLS an.")
                connection.starttls(ssl_context=tls_context(ca_certificate))
    except (ssl.SSLError, OSError, imaplib.IMAP4.error, MailboxError) as exc:
        if connection is not None:
            with suppress(OSError):
                connection.shutdown()
        if isinstance(exc, MailboxError):
            raise
        if isinstance(exc, ssl.SSLError):
            raise _tls_error(host, port, exc) from exc
        raise MailboxError(f"Verbindung zu {host}:{port} fehlgeschlagen: {_text(exc)}") from exc
    try:
        try:
            connection.login(username, password)
        except imaplib.IMAP4.error as exc:
            raise MailboxError(f"Anmeldung als {username} abgelehnt: {_text(exc)}") from exc
        yield connection
    finally:
        with suppress(OSError, imaplib.IMAP4.error):
            connection.logout()


def _text(value) -> str:
    if isinstance(value, imaplib.IMAP4.error):
        value = value.args[0] if value.args else ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value)


def _ok(result, what: str):
    kind, data = result
    if kind != "OK":
        raise MailboxError(f"{what}: {_text(data[0] if data else kind)}")
    return data


def folder_select(connection, folder: str, *, readonly: bool = False) -> int:
    """Select ``folder``; returns its UIDVALIDITY."""
    try:
        _ok(connection.select(mailbox_name(folder), readonly=readonly), f"Ordner „{folder}“")
        [validity] = connection.response("UIDVALIDITY")[1]
        return int(validity)
    except imaplib.IMAP4.error as exc:
        raise MailboxError(f"Ordner „{folder}“: {_text(exc)}") from exc


def folder_exists(connection, folder: str) -> bool:
    data = _ok(connection.list('""', mailbox_name(folder)), "LIST")
    return any(item for item in data if item)


def uids_search(connection, *, unseen_only: bool) -> list[int]:
    data = _ok(connection.uid("SEARCH", None, "UNSEEN" if unseen_only else "UNDELETED"), "SEARCH")
    return [int(uid) for uid in (data[0] or b"").split()]


@dataclass(frozen=True)
class MailHeader:
    uid: int
    size: int
    sender: str
    sender_address: str
    subject: str
    message_id: str
    date: str


def headers_fetch(connection, uids: list[int]) -> list[MailHeader]:
    if not uids:
        return []
    data = _ok(
        connection.uid(
            "FETCH",
            ",".join(str(uid) for uid in uids),
            "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT MESSAGE-ID DATE)])",
        ),
        "FETCH",
    )
    headers = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        uid, size = _FETCH_HEAD.search(item[0]), _FETCH_SIZE.search(item[0])
        if uid is None:
            continue
        message = email.message_from_bytes(item[1], policy=email.policy.default)
        sender = str(message.get("From", ""))
        address = message["From"].addresses[0].addr_spec if message["From"] and message["From"].addresses else ""
        headers.append(
            MailHeader(
                uid=int(uid.group(1)),
                size=int(size.group(1)) if size else 0,
                sender=sender,
                sender_address=address,
                subject=str(message.get("Subject", "")),
                message_id=str(message.get("Message-ID", "")).strip(),
                date=str(message.get("Date", "")),
            )
        )
    return headers


def message_fetch_raw(connection, uid: int) -> bytes:
    """The mail exactly as the server keeps it (RFC 5322 bytes)."""
    data = _ok(connection.uid("FETCH", str(uid), "(BODY.PEEK[])"), "FETCH")
    for item in data:
        if isinstance(item, tuple):
            return item[1]
    raise MailboxError(f"Mail {uid} ist nicht mehr vorhanden.")


def message_fetch(connection, uid: int) -> email.message.EmailMessage:
    return email.message_from_bytes(message_fetch_raw(connection, uid), policy=email.policy.default)


def attachments(message) -> list[tuple[str, bytes]]:
    """The attached files of a mail, in order; inline parts (signature logos, quoted images) are not."""
    found = []
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        if disposition == "attachment" or (filename and disposition != "inline"):
            payload = part.get_payload(decode=True) or b""
            found.append((filename or "anhang", payload))
    return found


def mark_seen(connection, uid: int) -> None:
    _ok(connection.uid("STORE", str(uid), "+FLAGS", "(\\Seen)"), "STORE")


def move(connection, uid: int, folder: str) -> None:
    """Move a mail (RFC 6851 MOVE, or COPY + delete + expunge where the server lacks it)."""
    target = mailbox_name(folder)
    if "MOVE" in connection.capabilities:
        _ok(connection.uid("MOVE", str(uid), target), f"Verschieben nach „{folder}“")
        return
    _ok(connection.uid("COPY", str(uid), target), f"Kopieren nach „{folder}“")
    _ok(connection.uid("STORE", str(uid), "+FLAGS", "(\\Deleted)"), "STORE")
    if "UIDPLUS" in connection.capabilities:
        _ok(connection.uid("EXPUNGE", str(uid)), "EXPUNGE")
    else:
        _ok(connection.expunge(), "EXPUNGE")


def folder_ensure(connection, folder: str) -> None:
    if not folder_exists(connection, folder):
        _ok(connection.create(mailbox_name(folder)), f"Ordner „{folder}“ anlegen")
