"""The watched folder: files dropped into it become documents.

A scanner or a colleague writes into the folder; a file is taken once it has stopped
changing (same size and modification time on two looks, and it can be opened), ingested
with ``source=folder`` and moved to ``done/`` or, with a ``<name>.reason.txt`` saying why,
to ``failed/``. The first sub-folder below the watched folder names a tag. A ZIP archive
(when ``ingest.zip_enabled``) goes to ``done/`` when any entry was taken, with a reason file
naming the refused ones. Polling, no inotify: it works the same on network shares, where
change notifications are unreliable.
"""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from django.core.files import File

from ablage.errors import ApplicationError
from documents.models import Document
from documents.services import IngestFile, document_ingest_batch, intake_has_room, read_upload

logger = logging.getLogger(__name__)

DONE = "done"
FAILED = "failed"


@dataclass(frozen=True)
class Consumed:
    """One file taken from the folder: where it came from, where it went, and what became of it."""

    relative_path: str
    moved_to: Path | None
    document: Document | None = None
    reason: str = ""


class FolderConsumer:
    """Watches one folder for one owner. Call ``poll()`` repeatedly; each call takes the files
    that have not changed since the previous call."""

    def __init__(self, *, folder: Path, owner, priority: int = 5):
        self.folder = Path(folder)
        self.owner = owner
        self.priority = priority
        # (size, mtime_ns) seen on the previous poll, by path.
        self._seen: dict[Path, tuple[int, int]] = {}
        # Ingested but still in place because moving them failed: never ingest them twice.
        self._ingested: dict[Path, tuple[int, int]] = {}
        self.errors = 0

    def poll(self) -> list[Consumed]:
        current = {}
        for path in self._candidates():
            try:
                stat = path.lstat()  # a link's own, so that a dangling one is seen (and refused) too
            except FileNotFoundError:
                continue  # taken away between listing and looking
            current[path] = (stat.st_size, stat.st_mtime_ns)
        stable = [path for path, signature in current.items() if self._seen.get(path) == signature]
        self._seen = current
        if stable and not intake_has_room():
            # Under overload the files wait here, where nothing is lost, until the queue has room.
            logger.info("Pipeline full: %s file(s) in %s wait for the next poll", len(stable), self.folder)
            return []
        consumed = []
        for path in sorted(stable):
            if self._ingested.get(path) == current[path]:
                continue
            result = self._consume(path, current[path])
            if result is not None:
                consumed.append(result)
                if result.moved_to is not None:
                    del self._seen[path]
        return consumed

    @property
    def waiting(self) -> int:
        """Files seen on the last poll and not taken yet (still being written, or unreadable)."""
        return sum(1 for path in self._seen if self._ingested.get(path) != self._seen[path])

    def _candidates(self):
        for root, folders, files in os.walk(self.folder):
            here = Path(root)
            # Sorted in place so that os.walk descends in a stable order; hidden folders and, at the
            # top, done/ and failed/ are not descended into at all.
            folders[:] = sorted(
                name
                for name in folders
                if not name.startswith(".") and not (here == self.folder and name in (DONE, FAILED))
            )
            for name in sorted(files):
                if not name.startswith("."):
                    yield here / name

    def _consume(self, path: Path, signature: tuple[int, int]) -> Consumed | None:
        relative = path.relative_to(self.folder)
        if path.is_symlink():
            # A link could point anywhere this process may read (other users' files, secrets).
            return self._fail(path, relative, "Verknüpfungen (Symlinks) werden nicht übernommen.")
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            return None
        except OSError as exc:
            # Still locked by its writer (SMB shares), or not readable for us: try again next poll.
            logger.info("%s cannot be opened yet: %s", relative, exc)
            return None
        tags = [relative.parts[0]] if len(relative.parts) > 1 else []
        with handle:
            upload = File(handle, name=path.name)
            try:
                outcomes = document_ingest_batch(
                    owner=self.owner,
                    files=[
                        IngestFile(
                            filename=path.name,
                            read=lambda: read_upload(upload),
                            source_reference=relative.as_posix(),
                        )
                    ],
                    source=Document.Source.FOLDER,
                    priority=self.priority,
                    tags=tags,
                )
            except ApplicationError as refusal:  # the tag (folder name) itself is refused
                return self._fail(path, relative, refusal.message)
            except Exception:
                # Database or storage trouble: the file stays where it is and is tried again.
                logger.exception("Could not ingest %s; it stays in place", relative)
                self.errors += 1
                return None
        # One outcome per file; a ZIP archive (when enabled) has one per entry.
        documents = [outcome.document for outcome in outcomes if outcome.document is not None]
        reason = "\n".join(outcome.refusal.message for outcome in outcomes if outcome.refusal is not None)
        if not documents:
            return self._fail(path, relative, reason)
        try:
            moved_to = _move(path, self.folder / DONE / relative)
        except OSError:
            logger.exception("Ingested %s as %s but could not move it to %s/", relative, documents[0].id, DONE)
            self._ingested[path] = signature
            self.errors += 1
            moved_to = None
        if moved_to is not None and reason:
            # Part of an archive was refused: say which, next to the archive in done/.
            moved_to.with_name(f"{moved_to.name}.reason.txt").write_text(reason + "\n", encoding="utf-8")
        return Consumed(relative.as_posix(), moved_to, document=documents[0], reason=reason)

    def _fail(self, path: Path, relative: Path, reason: str) -> Consumed | None:
        try:
            moved_to = _move(path, self.folder / FAILED / relative)
        except FileNotFoundError:
            return None
        except OSError:
            logger.exception("Could not move refused %s to %s/", relative, FAILED)
            self.errors += 1
            return None
        moved_to.with_name(f"{moved_to.name}.reason.txt").write_text(reason + "\n", encoding="utf-8")
        return Consumed(relative.as_posix(), moved_to, reason=reason)


def _move(source: Path, target: Path) -> Path:
    """Move ``source`` to ``target``, or to ``stem-1.ext``, ``stem-2.ext``, ... if that name is taken.

    The name is claimed with an exclusive create before the rename, so neither an existing
    file nor one another consumer moves there at the same moment is overwritten.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    stem, suffix = target.stem, target.suffix
    number = 0
    while True:
        candidate = target if number == 0 else target.with_name(f"{stem}-{number}{suffix}")
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            number += 1
            continue
        try:
            os.replace(source, candidate)
        except OSError:
            candidate.unlink(missing_ok=True)
            raise
        return candidate
