import os
import tempfile
import time
from pathlib import Path

from PIL import Image

from ocr.spool import PREFIX, STALE_AFTER_SECONDS, PageSpool


def test_it_keeps_pages_in_memory_up_to_the_budget_and_on_disk_beyond_it():
    spool = PageSpool(memory_budget=40 * 20 + 100)
    spool.put_image("p1", Image.new("L", (40, 20), 200))
    spool.put_image("p2", Image.new("RGB", (40, 20), (10, 20, 30)))
    spool.put_bytes("a1", b"x" * 50)
    spool.put_bytes("a2", b"y" * 80)

    assert not spool.on_disk("p1") and spool.on_disk("p2")
    assert not spool.on_disk("a1") and spool.on_disk("a2")
    with spool.open_image("p1") as first, spool.open_image("p2") as second:
        assert first.getpixel((3, 3)) == 200 and second.getpixel((3, 3)) == (10, 20, 30)
    with spool.open_bytes("a1") as small, spool.open_bytes("a2") as large:
        assert small.read() == b"x" * 50 and large.read() == b"y" * 80
    folders = _spool_folders()
    spool.close()
    assert _spool_folders() < folders


def _spool_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob(f"{PREFIX}*"))


def test_it_removes_spools_that_a_killed_worker_left_behind_but_not_live_ones():
    before = _spool_folders()
    abandoned = PageSpool(memory_budget=0)
    abandoned.put_bytes("p1", b"P5")
    (abandoned_folder,) = _spool_folders() - before
    old = time.time() - STALE_AFTER_SECONDS - 60
    os.utime(abandoned_folder, (old, old))
    live = PageSpool(memory_budget=0)

    live.put_bytes("p1", b"P5")  # the first page on disk sweeps up what dead workers left

    assert not abandoned_folder.exists()
    with live.open_bytes("p1") as handle:
        assert handle.read() == b"P5"
    live.close()
