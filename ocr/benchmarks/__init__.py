"""Performance figures for the processing pipeline on this machine (``manage.py bench pipeline``).

Everything is measured on documents generated here (``ablage.testing``), with the real pipeline
and the real Tesseract, and compared with the targets the worker sizing in the README relies on:

- scanned pages: pipeline wall time next to the bare ``tesseract`` command on the same image
  file (same languages, psm 3, dpi, ``OMP_THREAD_LIMIT=1``); the time spent outside the OCR
  stage must stay within 10 % of the OCR stage,
- born-digital pages: milliseconds per page end to end, target below 50 ms,
- throughput with one and two worker processes (``spawn``, Django set up in each), target
  speed-up of at least 1.8,
- peak RSS of one worker process on a long image-only PDF scan, target below 1 GB.

This is a report, not a test: a missed target is printed, never raised.
"""

import multiprocessing
import os
import platform
import queue
import subprocess
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from PIL import Image

from ablage.testing.invoices import LAYOUTS, random_invoice, render_pdf
from ablage.testing.scans import encode_pages, scan_pages
from ocr.management import bench_worker
from ocr.options import PipelineOptions, load_options
from ocr.pipeline import run_pipeline
from ocr.tesseract import tesseract_version

TARGET_MAX_OCR_OVERHEAD = 0.10
TARGET_MIN_SPEEDUP = 1.8
TARGET_MAX_BORN_DIGITAL_MS = 50.0
TARGET_MAX_WORKER_RSS_BYTES = 1_000_000_000

# Resolution of the warm-up image: small enough to cost well under a second, large enough that
# deskew, Tesseract and extraction all do real work and are loaded before anything is timed.
WARMUP_DPI = 100
# A worker that has not reported after this long is hung, not slow (a 50-page scan takes minutes).
WORKER_TIMEOUT_SECONDS = 1800

Log = Callable[[str], None]


class BenchmarkError(RuntimeError):
    pass


# -- statistics ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between closest ranks (numpy's default method)."""
    if not values:
        raise ValueError("Ein Perzentil braucht mindestens einen Messwert.")
    if not 0 <= q <= 100:
        raise ValueError(f"Das Perzentil muss zwischen 0 und 100 liegen, nicht {q}.")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def p95(values: Sequence[float]) -> float:
    return percentile(values, 95)


def ratio(numerator: float, denominator: float) -> float:
    if denominator <= 0:
        raise ValueError(f"Ein Verhältnis braucht einen positiven Nenner, nicht {denominator}.")
    return numerator / denominator


def summarise(values: Sequence[float]) -> dict[str, float]:
    return {"median": round(median(values), 3), "p95": round(p95(values), 3)}


# -- configuration and machine ---------------------------------------------------------------


@dataclass(frozen=True)
class BenchConfig:
    scanned_pages: int = 6
    born_digital: int = 20
    rss_pages: int = 50
    # Pages each throughput run processes, taken from the scanned pages in turn: with 6, each of
    # two workers gets 3 and one slow page decides the speed-up; 12 spread the work better.
    throughput_pages: int = 12
    seed: int = 1
    scan_dpi: int = 300
    worker_counts: tuple[int, ...] = (1, 2)

    def __post_init__(self):
        for name in ("scanned_pages", "born_digital", "rss_pages", "throughput_pages"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} muss mindestens 1 sein, nicht {getattr(self, name)}.")


FULL = BenchConfig()
QUICK = BenchConfig(scanned_pages=2, born_digital=6, rss_pages=10, throughput_pages=4)


def machine_info() -> dict:
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count() or 1,
        "usable_cores": len(os.sched_getaffinity(0)),
        # Other processes on the machine distort every figure here; the load says how much.
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "tesseract": tesseract_version(),
        "languages": settings.ABLAGE_OCR_LANGUAGES,
        "render_dpi": settings.ABLAGE_RENDER_DPI,
        "python": platform.python_version(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# -- test documents --------------------------------------------------------------------------


@dataclass
class ScannedPage:
    """One generated scan: the PNG file the pipeline and bare Tesseract both read, and its image."""

    label: str
    path: Path
    image: Image.Image


def make_scanned_pages(config: BenchConfig, directory: Path) -> list[ScannedPage]:
    pages = []
    for index in range(config.scanned_pages):
        seed = config.seed + index
        layout = LAYOUTS[index % len(LAYOUTS)]
        # Three to eight items keep every layout on one page, so one file is one page.
        spec = random_invoice(seed, layout=layout, item_count=3 + index % 6)
        image = scan_pages(spec, seed=seed, dpi=config.scan_dpi)[0]
        path = directory / f"scan-{index + 1:02d}-{layout}.png"
        path.write_bytes(encode_pages([image], fmt="png", dpi=config.scan_dpi))
        pages.append(ScannedPage(f"Seite {index + 1} (Layout {layout}, Seed {seed})", path, image))
    return pages


def make_warmup_file(page: ScannedPage, directory: Path) -> Path:
    scale = WARMUP_DPI / 300
    small = page.image.resize((round(page.image.width * scale), round(page.image.height * scale)))
    path = directory / "warmup.png"
    path.write_bytes(encode_pages([small], fmt="png", dpi=WARMUP_DPI))
    return path


def make_long_scan(pages: list[ScannedPage], count: int, directory: Path, *, dpi: int) -> Path:
    # An image-only PDF, as a scanner's feeder delivers it. A multi-page TIFF of noisy 300-dpi
    # pages is ~5.9 MB a page and would exceed the upload limit long before 50 pages. The
    # benchmark pages repeat; memory and OCR cost depend on page size, not on which invoice it is.
    images = [pages[index % len(pages)].image for index in range(count)]
    path = directory / f"scan-{count}-pages.pdf"
    path.write_bytes(encode_pages(images, fmt="pdf", dpi=dpi))
    return path


# -- measurements ----------------------------------------------------------------------------


def _timed_pipeline(
    data: bytes, options: PipelineOptions, *, cache_hit_timings: list | None = None
) -> tuple[float, dict[str, float], int]:
    """Pipeline wall time; with ``cache_hit_timings``, also the result-cache hit path for the same content."""
    started = time.perf_counter()
    output = run_pipeline(data, options=options)
    try:
        elapsed_ms = (time.perf_counter() - started) * 1000
        if cache_hit_timings is not None:
            cache_hit_timings.append(_timed_cache_hit(output, options))
        return elapsed_ms, dict(output.timings_ms), len(output.pages)
    finally:
        output.close()


def _timed_cache_hit(output, options: PipelineOptions) -> float:
    """What a second upload of the same bytes costs instead of the pipeline (documents.result_cache).

    The entry is written to and read from a scratch folder, not the database: reading the row
    is one indexed query, small beside loading the page images.
    """
    from django.core.files.storage import FileSystemStorage

    from documents.result_cache import entry_from_output, output_from_entry
    from ocr.pipeline import decide_for_document

    with tempfile.TemporaryDirectory(prefix="ablage-bench-cache-") as folder:
        storage = FileSystemStorage(location=folder)
        entry, _written = entry_from_output(
            key="bench", sha256="0" * 64, version="bench", output=output, storage=storage
        )
        started = time.perf_counter()
        restored = output_from_entry(entry, storage=storage)
        decide_for_document(restored, options=options, sample_key="bench", supplier_lookup=None)
        elapsed_ms = (time.perf_counter() - started) * 1000
        restored.close()
    return elapsed_ms


def bare_tesseract(path: Path, *, dpi: int) -> tuple[float, int]:
    """The ``tesseract`` command alone on ``path``, configured as the pipeline runs it: wall ms, peak RSS bytes."""
    command = [
        settings.ABLAGE_TESSERACT_CMD,
        str(path),
        "stdout",
        "-l",
        settings.ABLAGE_OCR_LANGUAGES,
        "--dpi",
        str(dpi),
        "--psm",
        "3",
        "tsv",
    ]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    peak = _PeakWatcher(process.pid)
    peak.start()
    try:
        _, stderr = process.communicate(timeout=settings.ABLAGE_OCR_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise BenchmarkError(f"Tesseract hat auf {path.name} nicht geantwortet.") from None
    finally:
        peak.stop()
    elapsed_ms = (time.perf_counter() - started) * 1000
    if process.returncode != 0:
        message = stderr.decode("utf-8", "replace").strip()[-300:]
        raise BenchmarkError(f"Tesseract ist auf {path.name} fehlgeschlagen: {message}")
    return elapsed_ms, peak.bytes


class _PeakWatcher(threading.Thread):
    """Polls a running process's VmHWM. ``getrusage``/``wait4`` cannot give a child's own peak:
    Linux carries the parent's high-water mark over fork and exec into the child's ru_maxrss."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.bytes = 0
        self._done = threading.Event()

    def run(self):
        status = Path(f"/proc/{self.pid}/status")
        while not self._done.wait(0.02):
            self.bytes = max(self.bytes, _high_water_mark(status) or 0)

    def stop(self):
        self._done.set()
        self.join()


def _high_water_mark(status: Path) -> int | None:
    """VmHWM of ``/proc/<pid>/status`` in bytes: the peak RSS of that process image since its exec."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def bench_scanned(pages: list[ScannedPage], *, options: PipelineOptions, dpi: int, log: Log) -> dict:
    rows = []
    cache_hits: list[float] = []
    for page in pages:
        pipeline_ms, timings, _ = _timed_pipeline(page.path.read_bytes(), options, cache_hit_timings=cache_hits)
        bare_ms, tesseract_rss = bare_tesseract(page.path, dpi=dpi)
        # The first OCR pass only: a second attempt on a low-confidence page ("retry") is work
        # the pipeline adds on top, so it counts as time outside OCR and shows in the stages.
        ocr_ms = timings.get("ocr", 0.0)
        if ocr_ms <= 0:
            raise BenchmarkError(f"{page.label}: die Pipeline hat keine OCR ausgeführt ({timings}).")
        outside_ms = pipeline_ms - ocr_ms
        rows.append(
            {
                "page": page.label,
                "pipeline_ms": round(pipeline_ms, 1),
                "bare_tesseract_ms": round(bare_ms, 1),
                "tesseract_peak_rss_bytes": tesseract_rss,
                "ratio": round(ratio(pipeline_ms, bare_ms), 3),
                "ocr_ms": round(ocr_ms, 1),
                "outside_ocr_ms": round(outside_ms, 1),
                "overhead": round(ratio(outside_ms, ocr_ms), 4),
                "outside_share": round(ratio(outside_ms, pipeline_ms), 4),
                "second_attempt": "retry" in timings,
                "stages_ms": _with_untimed(timings, pipeline_ms),
                "cache_hit_ms": round(cache_hits[-1], 1),
            }
        )
        log(f"  {page.label}: Pipeline {pipeline_ms:.0f} ms, tesseract allein {bare_ms:.0f} ms")
    return {
        "pages": len(rows),
        "second_attempts": sum(row["second_attempt"] for row in rows),
        "pipeline_ms": summarise([row["pipeline_ms"] for row in rows]),
        "cache_hit_ms": summarise([row["cache_hit_ms"] for row in rows]),
        "bare_tesseract_ms": summarise([row["bare_tesseract_ms"] for row in rows]),
        "tesseract_peak_rss_bytes": max(row["tesseract_peak_rss_bytes"] for row in rows),
        "ratio": summarise([row["ratio"] for row in rows]),
        "ocr_ms": summarise([row["ocr_ms"] for row in rows]),
        "outside_ocr_ms": summarise([row["outside_ocr_ms"] for row in rows]),
        "overhead": summarise([row["overhead"] for row in rows]),
        "outside_share": summarise([row["outside_share"] for row in rows]),
        "stages_ms": _stage_medians([row["stages_ms"] for row in rows]),
        "per_page": rows,
    }


def bench_born_digital(config: BenchConfig, *, options: PipelineOptions, log: Log) -> dict:
    per_page, stages, page_total = [], [], 0
    for index in range(config.born_digital):
        seed = config.seed + 1000 + index
        # The item count comes from the seed: now and then an invoice runs onto a second page.
        data = render_pdf(random_invoice(seed, layout=LAYOUTS[index % len(LAYOUTS)]))
        elapsed_ms, timings, page_count = _timed_pipeline(data, options)
        if timings.get("ocr"):
            raise BenchmarkError(f"Das digitale PDF (Seed {seed}) wurde per OCR gelesen statt aus der Textebene.")
        per_page.append(elapsed_ms / page_count)
        stages.append({name: value / page_count for name, value in _with_untimed(timings, elapsed_ms).items()})
        page_total += page_count
    log(f"  {config.born_digital} PDFs, {page_total} Seiten")
    return {
        "documents": config.born_digital,
        "pages": page_total,
        "ms_per_page": summarise(per_page),
        "stages_ms_per_page": _stage_medians(stages),
    }


def _with_untimed(timings: dict[str, float], wall_ms: float) -> dict[str, float]:
    # Work between the stages (the display image is scaled after the OCR stage closes) belongs
    # to the overhead too; naming it keeps the breakdown adding up to the wall time.
    stages = {name: round(value, 1) for name, value in timings.items()}
    stages["untimed"] = round(max(0.0, wall_ms - sum(timings.values())), 1)
    return stages


def _stage_medians(rows: list[dict[str, float]]) -> dict[str, float]:
    # Pipeline order, as the stages ran (dicts keep insertion order).
    names = list(dict.fromkeys(name for row in rows for name in row))
    return {name: round(median([row.get(name, 0.0) for row in rows]), 1) for name in names}


# -- worker processes ------------------------------------------------------------------------


def worker_main(options: dict, warmup: str, jobs, start, results) -> None:
    """One pipeline worker, as the Celery pool runs it; ``ocr.management.bench_worker`` set up Django.

    Messages on ``results``: ``ready`` after the warm-up, then ``report`` (or ``error``).
    """
    try:
        pipeline_options = PipelineOptions(**options)
        _timed_pipeline(Path(warmup).read_bytes(), pipeline_options)
        results.put({"kind": "ready"})
        start.wait()
        pages = 0
        while (path := jobs.get()) is not None:
            _, _, page_count = _timed_pipeline(Path(path).read_bytes(), pipeline_options)
            pages += page_count
        peak = _own_peak_rss_bytes()
    except Exception:
        results.put({"kind": "error", "error": traceback.format_exc()})
        return
    results.put({"kind": "report", "pages": pages, "peak_rss_bytes": peak})


def _own_peak_rss_bytes() -> int:
    # Not ru_maxrss (RUSAGE_SELF here, or RUSAGE_CHILDREN in the parent after the worker
    # exits): Linux carries the parent's high-water mark over fork and exec into the child's
    # ru_maxrss, so a worker spawned by a 400 MB process would report at least 400 MB. VmHWM
    # belongs to this process image alone.
    peak = _high_water_mark(Path("/proc/self/status"))
    if peak is None:
        raise BenchmarkError("Die Speicherspitze lässt sich nur unter Linux (/proc/self/status) messen.")
    return peak


def run_workers(paths: list[Path], *, workers: int, options: PipelineOptions, warmup: Path) -> tuple[float, list[dict]]:
    """Process ``paths`` with ``workers`` spawned processes; seconds from the common start to the last page."""
    context = multiprocessing.get_context("spawn")
    jobs, results, start = context.Queue(), context.Queue(), context.Event()
    for path in paths:
        jobs.put(str(path))
    for _ in range(workers):
        jobs.put(None)
    # Arguments are unpickled before the worker has set Django up, so the options travel as a
    # plain dict, not as the project's dataclass.
    arguments = (settings.SETTINGS_MODULE, asdict(options), str(warmup), jobs, start, results)
    processes = [context.Process(target=bench_worker.run, args=arguments, daemon=True) for _ in range(workers)]
    finished = False
    try:
        for process in processes:
            process.start()
        # The clock starts once every worker has set up Django and warmed up, so interpreter
        # start-up is not counted as processing time.
        _receive(results, processes, count=workers)
        started = time.perf_counter()
        start.set()
        reports = _receive(results, processes, count=workers)
        elapsed = time.perf_counter() - started
        finished = True
    finally:
        for process in processes:
            process.join(timeout=30 if finished else 0)
            if process.is_alive():
                process.kill()
                process.join()
    return elapsed, reports


def _receive(results, processes, *, count: int) -> list[dict]:
    messages: list[dict] = []
    deadline = time.monotonic() + WORKER_TIMEOUT_SECONDS
    while len(messages) < count:
        try:
            message = results.get(timeout=1.0)
        except queue.Empty:
            # A worker killed from outside (the OOM killer during the memory run) sends nothing.
            crashed = [process.exitcode for process in processes if process.exitcode not in (None, 0)]
            if crashed:
                raise BenchmarkError(
                    f"Ein Worker-Prozess ist unerwartet beendet worden (Exit-Code {crashed[0]}"
                    f"{'; Signal 9: zu wenig Speicher?' if crashed[0] == -9 else ''})."
                ) from None
            if time.monotonic() > deadline:
                raise BenchmarkError(f"Ein Worker-Prozess hat {WORKER_TIMEOUT_SECONDS} s nicht geantwortet.") from None
            continue
        if message["kind"] == "error":
            raise BenchmarkError("Ein Worker-Prozess ist fehlgeschlagen:\n" + message["error"])
        messages.append(message)
    return messages


def bench_throughput(
    pages: list[ScannedPage],
    *,
    page_count: int,
    worker_counts: Sequence[int],
    options: PipelineOptions,
    warmup: Path,
    log: Log,
) -> dict:
    # The pipeline keeps nothing between documents (the result cache sits in front of it, in
    # documents.services), so a page that comes round again costs what it did the first time.
    paths = [pages[index % len(pages)].path for index in range(page_count)]
    rates = {}
    for workers in worker_counts:
        elapsed, reports = run_workers(paths, workers=workers, options=options, warmup=warmup)
        done = sum(report["pages"] for report in reports)
        rates[workers] = ratio(done, elapsed)
        log(f"  {workers} Worker: {done} Seiten in {elapsed:.1f} s")
    one, most = min(worker_counts), max(worker_counts)
    return {
        "pages": len(paths),
        "pages_per_s": {str(workers): round(rate, 4) for workers, rate in rates.items()},
        "speedup": round(ratio(rates[most], rates[one]), 3),
        "speedup_workers": most,
    }


def bench_worker_rss(path: Path, *, page_count: int, options: PipelineOptions, warmup: Path, log: Log) -> dict:
    elapsed, reports = run_workers([path], workers=1, options=options, warmup=warmup)
    (report,) = reports
    if report["pages"] != page_count:
        raise BenchmarkError(f"Der Worker hat {report['pages']} statt {page_count} Seiten verarbeitet.")
    log(f"  {page_count} Seiten in {elapsed:.1f} s, Spitze {report['peak_rss_bytes'] / 1e6:.0f} MB")
    return {
        "pages": page_count,
        "format": "pdf",
        "file_bytes": path.stat().st_size,
        "seconds": round(elapsed, 1),
        "worker_peak_rss_bytes": report["peak_rss_bytes"],
    }


# -- the whole run ---------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    value: float
    limit: float
    unit: str
    at_most: bool
    passed: bool = field(init=False)

    def __post_init__(self):
        self.passed = self.value <= self.limit if self.at_most else self.value >= self.limit


def evaluate_targets(figures: dict) -> list[Target]:
    scanned, throughput = figures["scanned"], figures["throughput"]
    return [
        Target("overhead_outside_ocr", scanned["overhead"]["median"], TARGET_MAX_OCR_OVERHEAD, "ratio", at_most=True),
        Target("speedup_two_workers", throughput["speedup"], TARGET_MIN_SPEEDUP, "x", at_most=False),
        Target(
            "born_digital_ms_per_page",
            figures["born_digital"]["ms_per_page"]["median"],
            TARGET_MAX_BORN_DIGITAL_MS,
            "ms",
            at_most=True,
        ),
        Target(
            "worker_peak_rss",
            figures["worker_rss"]["worker_peak_rss_bytes"],
            TARGET_MAX_WORKER_RSS_BYTES,
            "bytes",
            at_most=True,
        ),
    ]


def run_benchmark(config: BenchConfig, *, log: Log = lambda line: None) -> dict:
    started = time.perf_counter()
    # The options in force here (SystemConfig over settings), resolved once so that the worker
    # processes run exactly what the in-process measurements ran.
    options = load_options()
    figures: dict = {"machine": machine_info(), "config": asdict(config), "options": asdict(options)}
    with tempfile.TemporaryDirectory(prefix="ablage-bench-") as tmp:
        directory = Path(tmp)
        log(f"Erzeuge {config.scanned_pages} gescannte Seiten ({config.scan_dpi} dpi) ...")
        pages = make_scanned_pages(config, directory)
        warmup = make_warmup_file(pages[0], directory)
        # Imports, regex compilation and the first Tesseract start (language data into the page
        # cache) happen once per process; a worker pays them once, not per page.
        _timed_pipeline(warmup.read_bytes(), options)
        _timed_pipeline(render_pdf(random_invoice(config.seed, layout=LAYOUTS[0])), options)

        log("Gescannte Seiten: Pipeline gegen tesseract allein ...")
        figures["scanned"] = bench_scanned(pages, options=options, dpi=config.scan_dpi, log=log)
        log("Digitale PDFs ...")
        figures["born_digital"] = bench_born_digital(config, options=options, log=log)
        log("Durchsatz mit Worker-Prozessen ...")
        figures["throughput"] = bench_throughput(
            pages,
            page_count=config.throughput_pages,
            worker_counts=config.worker_counts,
            options=options,
            warmup=warmup,
            log=log,
        )
        log(f"Speicherspitze eines Workers auf {config.rss_pages} Scan-Seiten ...")
        long_scan = make_long_scan(pages, config.rss_pages, directory, dpi=config.scan_dpi)
        for page in pages:
            page.image.close()
        figures["worker_rss"] = bench_worker_rss(
            long_scan, page_count=config.rss_pages, options=options, warmup=warmup, log=log
        )
    figures["machine"]["load_average_at_end"] = [round(load, 2) for load in os.getloadavg()]
    targets = evaluate_targets(figures)
    figures["targets"] = [asdict(target) for target in targets]
    failed = [target.name for target in targets if not target.passed]
    figures["summary"] = {
        "passed": len(targets) - len(failed),
        "total": len(targets),
        "failed": failed,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return figures


# -- text report -----------------------------------------------------------------------------

# The options that change how long a page takes, printed so that two runs can be compared.
_TIMING_OPTIONS = (
    "render_dpi",
    "deskew",
    "denoise",
    "contrast",
    "binarise",
    "normalise_resolution",
    "retry_below_confidence",
    "searchable_pdf",
    "backend",
)

_TARGET_LABELS = {
    "overhead_outside_ocr": "Zeit außerhalb OCR / OCR-Zeit (Median)",
    "speedup_two_workers": "Speed-up 2 gegen 1 Worker",
    "born_digital_ms_per_page": "Digitale Seite, ms (Median)",
    "worker_peak_rss": "Speicherspitze Worker",
}


def _target_value(target: dict) -> str:
    if target["unit"] == "ratio":
        return f"{target['value'] * 100:.1f} % (Ziel <= {target['limit'] * 100:.0f} %)"
    if target["unit"] == "bytes":
        return f"{target['value'] / 1e6:.0f} MB (Ziel < {target['limit'] / 1e6:.0f} MB)"
    if target["unit"] == "x":
        return f"{target['value']:.2f}x (Ziel >= {target['limit']:.1f}x)"
    return f"{target['value']:.1f} ms (Ziel < {target['limit']:.0f} ms)"


def format_report(figures: dict) -> str:
    machine, scanned, digital = figures["machine"], figures["scanned"], figures["born_digital"]
    throughput, rss = figures["throughput"], figures["worker_rss"]
    options = figures["options"]
    lines = [
        f"== bench pipeline: {machine['cpu_model']}, {machine['cores']} Kerne "
        f"({machine['usable_cores']} nutzbar), {machine['tesseract']}, Sprachen {machine['languages']}, "
        f"Python {machine['python']}",
        f"   Last (1/5/15 min) beim Start {_loads(machine['load_average'])}, am Ende "
        f"{_loads(machine['load_average_at_end'])}",
        "   Optionen: " + ", ".join(f"{name}={options[name]}" for name in _TIMING_OPTIONS if name in options),
        "",
        f"Gescannte Seiten ({scanned['pages']} PNG, {figures['config']['scan_dpi']} dpi)     Median       p95",
    ]

    def row(label: str, stats: dict, fmt: str = "{:8.0f} ms") -> str:
        return f"  {label:38s} {fmt.format(stats['median'])}  {fmt.format(stats['p95'])}"

    lines += [
        row("Pipeline", scanned["pipeline_ms"]),
        row("erneut hochgeladen (Ergebnis-Cache)", scanned["cache_hit_ms"]),
        row("tesseract allein", scanned["bare_tesseract_ms"]),
        row("Verhältnis Pipeline / tesseract", scanned["ratio"], "{:10.2f}x"),
        row("OCR-Stufe", scanned["ocr_ms"]),
        row("außerhalb OCR", scanned["outside_ocr_ms"]),
        row("außerhalb OCR / OCR-Stufe", _percent_stats(scanned["overhead"]), "{:9.1f} %"),
        row("Anteil außerhalb OCR an der Pipeline", _percent_stats(scanned["outside_share"]), "{:9.1f} %"),
        "  Stufen (Median, ms): " + _stages(scanned["stages_ms"]),
        f"  Zweiter OCR-Versuch (retry) auf {scanned['second_attempts']} von {scanned['pages']} Seiten",
        "",
        f"Digitale PDFs ({digital['documents']} Dokumente, {digital['pages']} Seiten)",
        row("ms pro Seite", digital["ms_per_page"], "{:8.1f} ms"),
        "  Stufen pro Seite (Median, ms): " + _stages(digital["stages_ms_per_page"]),
        "",
        f"Durchsatz gescannter Seiten ({throughput['pages']} Seiten, spawn-Prozesse)",
    ]
    for workers, rate in throughput["pages_per_s"].items():
        lines.append(f"  {workers} Worker: {rate:.3f} Seiten/s")
    lines += [
        f"  Speed-up {throughput['speedup_workers']} gegen 1: {throughput['speedup']:.2f}x",
        "",
        f"Speicher: ein Worker auf {rss['pages']} Seiten Bild-PDF ({rss['file_bytes'] / 1e6:.0f} MB, "
        f"{rss['seconds']:.0f} s)",
        f"  Spitze Worker-Prozess {rss['worker_peak_rss_bytes'] / 1e6:.0f} MB; dazu läuft je Seite ein "
        f"Tesseract-Prozess (Spitze {scanned['tesseract_peak_rss_bytes'] / 1e6:.0f} MB)",
        "",
        "Ziele",
    ]
    for target in figures["targets"]:
        verdict = "PASS" if target["passed"] else "FAIL"
        lines.append(f"  {verdict}  {_TARGET_LABELS[target['name']]:40s} {_target_value(target)}")
    summary = figures["summary"]
    failed = ", ".join(_TARGET_LABELS[name] for name in summary["failed"]) or "keine"
    lines += [
        "",
        f"Zusammenfassung: {summary['passed']}/{summary['total']} Ziele erreicht; nicht erreicht: {failed} "
        f"(Laufzeit {summary['seconds']:.0f} s)",
    ]
    return "\n".join(lines)


def _loads(loads: list[float]) -> str:
    return "/".join(f"{value:.2f}" for value in loads)


def _percent_stats(stats: dict) -> dict:
    return {key: value * 100 for key, value in stats.items()}


def _stages(stages: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:g}" for name, value in stages.items() if value)
