"""The watched folder (``manage.py consume``): files become documents and move to done/ or failed/."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from ablage.errors import ApplicationError
from ablage.testing import bad_files
from documents import services
from documents.consume import FolderConsumer
from documents.models import Document

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "eingang"
    path.mkdir()
    return path


def _drop(folder: Path, relative: str, data: bytes) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _consume(folder, owner, **options):
    call_command("consume", folder=folder, owner=owner.email, once=True, interval=0.05, **options)


@pytest.mark.django_db
@pytest.mark.embedded
class TestOnce:
    def test_it_ingests_a_file_and_moves_it_to_done(self, folder, owner, born_digital_pdf):
        _drop(folder, "Rechnung März.pdf", born_digital_pdf)

        _consume(folder, owner)

        document = Document.objects.get()
        assert document.owner == owner
        assert document.source == Document.Source.FOLDER
        assert document.source_reference == "Rechnung März.pdf"
        assert document.original_filename == "Rechnung März.pdf"
        assert not document.tags.exists()
        assert default_storage.open(document.storage_key).read() == born_digital_pdf
        assert document.jobs.count() == 1
        assert not (folder / "Rechnung März.pdf").exists()
        assert (folder / "done" / "Rechnung März.pdf").read_bytes() == born_digital_pdf

    def test_it_tags_a_document_with_its_first_sub_folder(self, folder, owner):
        _drop(folder, "Reise/2026/beleg.pdf", bad_files.valid_pdf())

        _consume(folder, owner)

        document = Document.objects.get()
        assert [tag.name for tag in document.tags.all()] == ["Reise"]
        assert document.source_reference == "Reise/2026/beleg.pdf"
        assert (folder / "done" / "Reise" / "2026" / "beleg.pdf").exists()

    @pytest.mark.parametrize(
        ("name", "make"),
        [
            ("kaputt.pdf", bad_files.corrupt_pdf),
            ("leer.pdf", bad_files.empty_file),
            ("notiz.pdf", bad_files.text_file_named_pdf),
        ],
    )
    def test_it_moves_a_refused_file_to_failed_with_the_services_reason(self, folder, owner, name, make):
        _drop(folder, f"Lieferant/{name}", make())
        with pytest.raises(ApplicationError) as refusal:
            services.upload_validate(filename=name, data=make())

        _consume(folder, owner)

        assert not Document.all_objects.exists()
        assert (folder / "failed" / "Lieferant" / name).read_bytes() == make()
        reason = (folder / "failed" / "Lieferant" / f"{name}.reason.txt").read_text(encoding="utf-8")
        assert reason.strip() == refusal.value.message
        assert not (folder / "Lieferant" / name).exists()

    def test_it_takes_the_good_files_when_others_are_refused(self, folder, owner):
        _drop(folder, "a.pdf", bad_files.valid_pdf())
        _drop(folder, "b.pdf", bad_files.encrypted_pdf())
        _drop(folder, "c.pdf", bad_files.valid_pdf())

        _consume(folder, owner)

        assert sorted(Document.objects.values_list("original_filename", flat=True)) == ["a.pdf", "c.pdf"]
        assert sorted(path.name for path in (folder / "done").iterdir()) == ["a.pdf", "c.pdf"]
        assert sorted(path.name for path in (folder / "failed").iterdir()) == ["b.pdf", "b.pdf.reason.txt"]

    def test_it_ignores_hidden_files_and_the_done_and_failed_folders(self, folder, owner):
        pdf = bad_files.valid_pdf()
        untouched = [
            _drop(folder, ".versteckt.pdf", pdf),
            _drop(folder, ".sync/a.pdf", pdf),
            _drop(folder, "done/alt.pdf", pdf),
            _drop(folder, "failed/alt.pdf", pdf),
        ]

        _consume(folder, owner)

        assert not Document.all_objects.exists()
        assert all(path.read_bytes() == pdf for path in untouched)

    def test_it_never_overwrites_a_file_in_done(self, folder, owner):
        _drop(folder, "done/rechnung.pdf", b"frueher")
        _drop(folder, "done/rechnung-1.pdf", b"noch frueher")
        pdf = bad_files.valid_pdf()
        _drop(folder, "rechnung.pdf", pdf)

        _consume(folder, owner)

        assert (folder / "done" / "rechnung.pdf").read_bytes() == b"frueher"
        assert (folder / "done" / "rechnung-1.pdf").read_bytes() == b"noch frueher"
        assert (folder / "done" / "rechnung-2.pdf").read_bytes() == pdf
        assert Document.objects.count() == 1

    def test_it_takes_each_entry_of_an_enabled_zip_and_names_the_refused_ones(self, folder, owner):
        from ablage.testing.bad_uploads import zip_of
        from system.services import config_set

        config_set(key="ingest.zip_enabled", value=True, user=None)
        _drop(folder, "Scanner/belege.zip", zip_of({"a.pdf": bad_files.valid_pdf(), "b.pdf": b""}))

        _consume(folder, owner)

        document = Document.objects.get()
        assert document.original_filename == "a.pdf"
        assert [tag.name for tag in document.tags.all()] == ["Scanner"]
        assert (folder / "done" / "Scanner" / "belege.zip").exists()
        reason = (folder / "done" / "Scanner" / "belege.zip.reason.txt").read_text(encoding="utf-8")
        assert reason.strip() == "„b.pdf“ ist leer."

    def test_it_moves_a_refused_duplicate_to_failed_with_the_reason(self, folder, owner):
        from system.services import config_set

        config_set(key="ingest.duplicates", value="reject", user=None)
        services.document_ingest(owner=owner, filename="erste.pdf", data=bad_files.valid_pdf())
        _drop(folder, "zweite.pdf", bad_files.valid_pdf())

        _consume(folder, owner)

        assert Document.objects.count() == 1
        reason = (folder / "failed" / "zweite.pdf.reason.txt").read_text(encoding="utf-8")
        assert "Dieses Dokument wurde bereits am" in reason and "(„erste.pdf“)" in reason

    def test_it_sanitises_the_file_name(self, folder, owner):
        _drop(folder, 'Rechnung: "März"?.pdf', bad_files.valid_pdf())

        _consume(folder, owner)

        assert Document.objects.get().original_filename == "Rechnung März.pdf"

    def test_it_refuses_a_symlink_without_reading_its_target(self, folder, owner, tmp_path):
        secret = _drop(tmp_path, "anderswo/geheim.pdf", bad_files.valid_pdf())
        (folder / "link.pdf").symlink_to(secret)

        _consume(folder, owner)

        assert not Document.all_objects.exists()
        assert (folder / "failed" / "link.pdf").is_symlink()
        assert "Symlinks" in (folder / "failed" / "link.pdf.reason.txt").read_text(encoding="utf-8")
        assert secret.exists()

    def test_it_watches_ABLAGE_CONSUME_DIR_by_default(self, folder, owner, monkeypatch):
        monkeypatch.setenv("ABLAGE_CONSUME_DIR", str(folder))
        _drop(folder, "a.pdf", bad_files.valid_pdf())

        call_command("consume", owner=owner.email, once=True, interval=0.05)

        assert Document.objects.get().source_reference == "a.pdf"

    def test_it_refuses_an_unknown_owner(self, folder):
        with pytest.raises(CommandError, match="nicht gefunden"):
            call_command("consume", folder=folder, owner="niemand@example.com", once=True, interval=0.05)

    def test_it_refuses_a_missing_folder(self, tmp_path, owner):
        with pytest.raises(CommandError, match="existiert nicht"):
            call_command("consume", folder=tmp_path / "fehlt", owner=owner.email, once=True, interval=0.05)


@pytest.mark.django_db
@pytest.mark.embedded
def test_it_waits_until_a_file_has_stopped_changing(folder, owner):
    consumer = FolderConsumer(folder=folder, owner=owner)
    pdf = bad_files.valid_pdf()
    path = _drop(folder, "scan.pdf", pdf[:100])

    assert consumer.poll() == []  # first look
    with path.open("ab") as handle:
        handle.write(pdf[100:])
    assert consumer.poll() == []  # changed since the first look
    assert consumer.waiting == 1
    assert not Document.all_objects.exists()

    [consumed] = consumer.poll()  # unchanged: written completely

    assert consumed.document.original_filename == "scan.pdf"
    assert default_storage.open(consumed.document.storage_key).read() == pdf
    assert consumed.moved_to == folder / "done" / "scan.pdf"
    assert consumer.waiting == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_keeps_watching_until_told_to_stop(folder, owner, signum):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ablage.settings_test",
        "ABLAGE_TEST_DB_NAME": str(settings.DATABASES["default"]["NAME"]),
        "ABLAGE_TEST_BROKER": "filesystem",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "consume", "--folder", str(folder), "--owner", owner.email, "--interval", "0.2"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _drop(folder, "spaeter.pdf", bad_files.valid_pdf())
        deadline = time.monotonic() + 60
        while not (folder / "done" / "spaeter.pdf").exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the file was not taken within 60 s"
            time.sleep(0.1)

        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, stderr
    assert "Beendet." in stderr
    document = Document.objects.get()
    assert document.source == Document.Source.FOLDER
    assert f"angenommen: spaeter.pdf -> {document.id}" in stdout
