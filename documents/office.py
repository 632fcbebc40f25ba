"""Office files (DOCX, XLSX, ODT, RTF, plain text) as documents: converted to PDF by
LibreOffice headless at intake, then processed like any PDF. The office file stays the legal
original; the PDF is its rendition (``Document.rendition_key``).

LibreOffice runs sandboxed: a fresh temporary HOME and user profile per conversion (no state
shared between documents, no macros or settings from elsewhere), a network namespace of its
own (``unshare``: linked images or remote templates cannot be fetched), a wall-clock limit
after which its whole process group is killed, and a bounded ZIP check before it sees the file.
Without LibreOffice, or without a way to cut it off from the network, office files are refused.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import zipfile
from pathlib import Path

from ablage.errors import ApplicationError
from ocr.filetypes import FileType

logger = logging.getLogger(__name__)

CONVERT_TIMEOUT_SECONDS = 90
# An office file is a ZIP (except RTF and text): caps against a ZIP bomb before LibreOffice unpacks it.
MAX_ENTRIES = 5000
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 200

DOCX = FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", "Word (DOCX)")
XLSX = FileType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", "Excel (XLSX)")
ODT = FileType("application/vnd.oasis.opendocument.text", "odt", "OpenDocument-Text (ODT)")
RTF = FileType("application/rtf", "rtf", "RTF")
TEXT = FileType("text/plain", "txt", "Text")
OFFICE_TYPES = {file_type.extension: file_type for file_type in (DOCX, XLSX, ODT, RTF, TEXT)}


def office_type(filename: str) -> FileType | None:
    """The office type ``filename`` promises by its extension (checked against the content later)."""
    _, dot, extension = filename.rpartition(".")
    return OFFICE_TYPES.get(extension.lower()) if dot else None


def _refuse(filename: str, reason: str, *, code: str, status_code: int = 400) -> ApplicationError:
    return ApplicationError(f"„{filename}“: {reason}", code=code, status_code=status_code)


def _zip_members(filename: str, data: bytes) -> list[str]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        return []
    with archive:
        members = archive.infolist()
        total = sum(member.file_size for member in members)
        if len(members) > MAX_ENTRIES or total > MAX_UNPACKED_BYTES or total > MAX_RATIO * max(len(data), 1):
            raise _refuse(
                filename,
                "Die Datei würde entpackt zu groß (mögliche ZIP-Bombe) und wird nicht angenommen.",
                code="decompression_bomb",
            )
        names = [member.filename for member in members]
        if names and names[0] == "mimetype":
            names[0] = "mimetype:" + archive.read("mimetype")[:100].decode("ascii", "replace").strip()
        return names


def _content_matches(file_type: FileType, filename: str, data: bytes) -> bool:
    if file_type == RTF:
        return data.lstrip(b"\xef\xbb\xbf").startswith(b"{\\rtf")
    if file_type == TEXT:
        return b"\x00" not in data[:65536] and not data.startswith((b"%PDF", b"PK\x03\x04", b"{\\rtf"))
    members = _zip_members(filename, data)
    if file_type == DOCX:
        return "[Content_Types].xml" in members and "word/document.xml" in members
    if file_type == XLSX:
        return "[Content_Types].xml" in members and "xl/workbook.xml" in members
    return f"mimetype:{ODT.mime_type}" in members  # ODF 1.2, part 3, 3.3: "mimetype" first


def _text_as_utf8(data: bytes) -> bytes:
    """Plain text in UTF-8 with a byte-order mark, which LibreOffice's text import recognises
    for sure; older German files are often Windows-1252."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", "replace")
    return b"\xef\xbb\xbf" + text.encode("utf-8")


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


@functools.cache
def _network_sandbox() -> tuple[str, ...] | None:
    """The ``unshare`` prefix that gives LibreOffice an empty network namespace, if one works here."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    for prefix in ((unshare, "--net", "--map-root-user"), (unshare, "--net")):
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0:
                return prefix
        except (OSError, subprocess.TimeoutExpired):
            continue
    return None


def office_validate(*, filename: str, data: bytes, file_type: FileType) -> None:
    """Refuse before conversion: LibreOffice missing, no sandbox, or content not what the name says."""
    if soffice_path() is None:
        raise _refuse(
            filename,
            f"{file_type.label}-Dateien können hier nicht angenommen werden: LibreOffice ist auf dem Server "
            "nicht installiert. Bitte als PDF hochladen.",
            code="office_unavailable",
            status_code=415,
        )
    if _network_sandbox() is None:
        raise _refuse(
            filename,
            f"{file_type.label}-Dateien können hier nicht angenommen werden: die Umwandlung kann nicht vom Netz "
            "abgeschottet werden. Bitte als PDF hochladen.",
            code="office_unavailable",
            status_code=415,
        )
    if not _content_matches(file_type, filename, data):
        raise _refuse(
            filename,
            f"Die Endung „.{file_type.extension}“ passt nicht zum Inhalt: die Datei ist keine {file_type.label}-Datei.",
            code="extension_mismatch",
        )


def office_to_pdf(*, filename: str, data: bytes, file_type: FileType) -> bytes:
    """The PDF LibreOffice makes of ``data``; ApplicationError when it fails or takes too long."""
    with tempfile.TemporaryDirectory(prefix="ablage-office-") as workdir:
        work = Path(workdir)
        (work / "home").mkdir()
        (work / "out").mkdir()
        source = work / f"dokument.{file_type.extension}"
        source.write_bytes(_text_as_utf8(data) if file_type == TEXT else data)
        command = [
            *_network_sandbox(),
            soffice_path(),
            f"-env:UserInstallation=file://{work / 'profile'}",
            "--headless",
            "--invisible",
            "--norestore",
            "--nolockcheck",
            "--nodefault",
            "--nologo",
            "--convert-to",
            "pdf",
            "--outdir",
            str(work / "out"),
            str(source),
        ]
        # Nothing from the web process's environment (credentials, proxies) reaches LibreOffice.
        environment = {"HOME": str(work / "home"), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        process = subprocess.Popen(
            command,
            cwd=work,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=CONVERT_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            # soffice forks soffice.bin: the whole session goes, not only the launcher.
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise _refuse(
                filename,
                f"Die Umwandlung in PDF hat länger als {CONVERT_TIMEOUT_SECONDS} Sekunden gedauert und wurde "
                "abgebrochen.",
                code="conversion_timeout",
            ) from None
        pdf = work / "out" / "dokument.pdf"
        if process.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
            logger.warning(
                "LibreOffice could not convert %s (exit %s): %s",
                filename,
                process.returncode,
                output.decode(errors="replace")[-2000:],
            )
            raise _refuse(
                filename,
                f"Die {file_type.label}-Datei ließ sich nicht in PDF umwandeln (beschädigt oder geschützt?).",
                code="conversion_failed",
            )
        return pdf.read_bytes()
