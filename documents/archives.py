"""ZIP archives as a way in: refused unless enabled, then opened with caps before anything is stored.

Each entry becomes a file of its own for ``document_ingest_batch``. Refused as a whole: too
many entries, an entry whose name leaves the archive (absolute, ``..``), an encrypted entry,
an entry or a total that would unpack to more than allowed, or an entry compressed more than
``ingest.zip_max_ratio`` times (a ZIP bomb). Sizes in the directory can lie, so every entry
is read with a bound and measured again.
"""

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.utils.translation import gettext as _

from ablage.errors import ApplicationError

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def is_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


@dataclass(frozen=True)
class ArchiveEntry:
    """One file unpacked from an archive: its name inside it, and its bytes."""

    name: str
    data: bytes


def _refuse(filename: str, reason: str, *, code: str, status_code: int = 400) -> ApplicationError:
    return ApplicationError(f"„{filename}“: {reason}", code=code, status_code=status_code)


def zip_entries(*, filename: str, data: bytes) -> list[ArchiveEntry]:
    """The files inside the ZIP ``data``, or an ApplicationError saying why it is refused."""
    from system.selectors import config_get

    if not config_get("ingest.zip_enabled", False):
        raise _refuse(
            filename,
            _("ZIP-Archive werden nicht angenommen. Bitte die Dateien einzeln hochladen."),
            code="zip_not_allowed",
            status_code=415,
        )
    max_entries = config_get("ingest.zip_max_entries", 50)
    max_total = config_get("ingest.zip_max_total_mb", 200) * 1024 * 1024
    max_ratio = config_get("ingest.zip_max_ratio", 100)
    max_entry = settings.ABLAGE_MAX_UPLOAD_BYTES
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise _refuse(filename, _("Das ZIP-Archiv ist beschädigt."), code="corrupt_zip") from exc
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if not members:
            raise _refuse(filename, _("Das ZIP-Archiv enthält keine Dateien."), code="empty_zip")
        if len(members) > max_entries:
            raise _refuse(
                filename,
                _("Das ZIP-Archiv enthält %(count)s Dateien; erlaubt sind höchstens %(limit)s.")
                % {"count": len(members), "limit": max_entries},
                code="zip_too_many_entries",
            )
        for info in members:
            _check_member(filename, info, max_ratio=max_ratio, max_entry=max_entry)
        if sum(info.file_size for info in members) > max_total:
            raise _refuse(filename, _zip_too_large(max_total), code="zip_too_large", status_code=413)
        entries = []
        total = 0
        for info in members:
            try:
                with archive.open(info) as handle:
                    # The declared size may lie; never read more than it promised (plus one byte to notice).
                    content = handle.read(info.file_size + 1)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
                raise _refuse(filename, _("Das ZIP-Archiv ist beschädigt."), code="corrupt_zip") from exc
            total += len(content)
            if len(content) > info.file_size or total > max_total:
                raise _refuse(filename, _zip_too_large(max_total), code="zip_too_large", status_code=413)
            entries.append(ArchiveEntry(info.filename, content))
    return entries


def _zip_too_large(max_total: int) -> str:
    return _("Das ZIP-Archiv ist entpackt größer als erlaubt (%(limit)s MB).") % {"limit": max_total // 1_048_576}


def _check_member(filename: str, info: zipfile.ZipInfo, *, max_ratio: int, max_entry: int) -> None:
    name = info.filename
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and path.parts[0].endswith(":")):
        raise _refuse(
            filename,
            _("Das ZIP-Archiv enthält einen unzulässigen Pfad (%(name)s).") % {"name": name[:100]},
            code="zip_path_escape",
        )
    if info.flag_bits & 0x1:
        raise _refuse(filename, _("Das ZIP-Archiv ist verschlüsselt."), code="zip_encrypted")
    if info.file_size > max_entry:
        raise _refuse(
            filename,
            _("„%(name)s“ im ZIP-Archiv ist zu groß; erlaubt sind %(limit)s MB.")
            % {"name": path.name[:100], "limit": max_entry // 1_048_576},
            code="file_too_large",
            status_code=413,
        )
    if info.file_size > max(info.compress_size, 1) * max_ratio:
        raise _refuse(
            filename,
            _("„%(name)s“ im ZIP-Archiv ist verdächtig stark komprimiert (ZIP-Bombe?).") % {"name": path.name[:100]},
            code="zip_bomb",
        )
