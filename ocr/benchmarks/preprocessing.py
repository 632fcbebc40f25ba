"""What each preprocessing step does for recognition (``manage.py bench preprocessing``).

Scanned invoices are generated here in several conditions, from a clean office scan to a
noisy, blurred 150-dpi fax sent as a JPEG, and each is read by the real pipeline once per
*variant*: every preprocessing step off (baseline), one step on at a time, the defaults in
force, and the defaults with the second attempt. The second attempt is off in every other
variant (``retry_below_confidence=0``), so each variant is measured alone.

Per variant: the exact-match rate of the core fields (``extraction.evaluation``), the mean
OCR word confidence, the character error rate (CER) of the OCR text against the text layer
of the same invoice rendered born-digital, and milliseconds per page of the preprocess and
OCR stages. A step's verdict (helps / neutral / hurts) compares it with the baseline.

CER here is line-based and order-free: each line of the true text is looked up in the whole
OCR text of its page, with free start and end (a semi-global alignment), and the edits it
needs are summed and divided by the true text's length. Tesseract may read two columns in a
different order than the PDF stores them, or join a label and its value into one line; that
is not a recognition error and costs nothing here. Text the OCR invents (speckles read as
characters) is not counted; the mean confidence and the field rate show that instead. A line
the OCR lost entirely costs at most its length, less what it matches by chance elsewhere, so
lost text is somewhat understated; the figure is for comparing variants, not an absolute CER.
"""

import multiprocessing
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
from django.conf import settings

from ablage.testing.invoices import INVOICE, LAYOUTS, random_invoice, render_pdf
from ablage.testing.scans import render_scan
from extraction.decision import AUTO_APPROVE
from extraction.evaluation import CORE_FIELDS, SCAN, EvaluationCase, evaluate
from extraction.types import ExtractionResult
from ocr.errors import StopProcessing, TransientOCRError
from ocr.management import bench_worker
from ocr.options import PipelineOptions, load_options
from ocr.pipeline import run_pipeline

Log = Callable[[str], None]

# A verdict needs a difference larger than the sample can produce by a single lucky field,
# and a CER change that is both relative (5 %) and visible (0.2 percentage points).
VERDICT_MIN_FIELDS = 2
VERDICT_MIN_CER_RELATIVE = 0.05
VERDICT_MIN_CER_ABSOLUTE = 0.002
DEFAULT_RETRY_BELOW = 0.75


# -- character error rate --------------------------------------------------------------------


def normalise_text(text: str) -> str:
    """Whitespace runs (line breaks included) become one space; ends are stripped."""
    return " ".join(text.split())


def edit_distance(a: str, b: str, *, free_ends_in_b: bool = False) -> int:
    """Levenshtein distance (insert, delete, substitute: 1 each) between ``a`` and ``b``.

    With ``free_ends_in_b`` it is the distance between ``a`` and the best-matching substring
    of ``b``: skipping text of ``b`` before and after the match costs nothing.

    One numpy row per character of ``a``. An insertion depends on the cell to its left, which
    a vectorised row cannot see; but ``min over k <= j of (candidate[k] + j - k)`` is a running
    minimum of ``candidate - index`` plus ``index``, so the whole row is still three numpy calls.
    """
    if not a:
        return 0 if free_ends_in_b else len(b)
    if not b:
        return len(a)
    codes = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    index = np.arange(len(b) + 1)
    row = np.zeros(len(b) + 1, dtype=np.int64) if free_ends_in_b else index.astype(np.int64)
    for i, char in enumerate(a, start=1):
        mismatch = codes != ord(char)
        candidate = np.empty_like(row)
        candidate[0] = i
        # Substitution (or match) from the diagonal, deletion from above.
        candidate[1:] = np.minimum(row[:-1] + mismatch, row[1:] + 1)
        row = np.minimum.accumulate(candidate - index) + index
    return int(row.min() if free_ends_in_b else row[-1])


def character_errors(truth_lines: Sequence[str], ocr_text: str) -> tuple[int, int]:
    """(edits, true characters): each normalised true line found in the OCR text at its best place."""
    haystack = normalise_text(ocr_text)
    edits = characters = 0
    for line in truth_lines:
        needle = normalise_text(line)
        if not needle:
            continue
        edits += edit_distance(needle, haystack, free_ends_in_b=True)
        characters += len(needle)
    return edits, characters


def character_error_rate(truth_lines: Sequence[str], ocr_text: str) -> float:
    edits, characters = character_errors(truth_lines, ocr_text)
    if not characters:
        raise ValueError("Der Vergleichstext ist leer; eine Zeichenfehlerrate braucht mindestens ein Zeichen.")
    return edits / characters


def text_layer_lines(pdf: bytes) -> list[list[str]]:
    """Per page, the lines of a born-digital PDF's text layer as pdfium reads them."""
    document = pdfium.PdfDocument(pdf)
    try:
        pages = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            text = textpage.get_text_bounded()
            textpage.close()
            page.close()
            pages.append([line for line in text.splitlines() if line.strip()])
        return pages
    finally:
        document.close()


# -- scan conditions and variants ------------------------------------------------------------


@dataclass(frozen=True)
class ScanCondition:
    name: str
    noise: float
    blur: float
    dpi: int = 300
    jpeg_quality: int | None = None

    @property
    def hard(self) -> bool:
        return self.noise >= 12 or self.blur >= 1.0 or self.dpi < 200 or self.jpeg_quality is not None


# From a good office scanner to a faxed, re-compressed page. Rotation comes from the seed (+-2 degrees).
CONDITIONS = (
    ScanCondition("sauber", noise=4, blur=0.5),
    ScanCondition("buero", noise=8, blur=0.8),
    ScanCondition("verrauscht", noise=14, blur=0.8),
    ScanCondition("stark-verrauscht-unscharf", noise=18, blur=1.2),
    ScanCondition("fax-150dpi", noise=8, blur=0.8, dpi=150),
    ScanCondition("150dpi-jpeg40", noise=16, blur=1.4, dpi=150, jpeg_quality=40),
)

_ALL_OFF = {"deskew": False, "normalise_resolution": False, "contrast": False, "binarise": False, "denoise": "off"}


@dataclass(frozen=True)
class Variant:
    name: str
    label: str
    # None: the defaults in force; otherwise every step off except these.
    steps: dict | None
    retry_below_confidence: float = 0.0

    def options(self, defaults: PipelineOptions) -> PipelineOptions:
        steps = {} if self.steps is None else {**_ALL_OFF, **self.steps}
        # Tesseract throughout: "auto" could send a complex page to Surya where it is installed,
        # and a backend change is not a preprocessing step.
        return defaults.but(
            **steps, retry_below_confidence=self.retry_below_confidence, searchable_pdf=False, backend="tesseract"
        )


BASELINE = "baseline"
VARIANTS = (
    Variant(BASELINE, "Basis (alles aus)", {}),
    Variant("deskew", "+ Schräglage", {"deskew": True}),
    Variant("normalise_resolution", "+ Auflösung 300 dpi", {"normalise_resolution": True}),
    Variant("contrast", "+ Kontrast (CLAHE)", {"contrast": True}),
    Variant("binarise", "+ Binarisierung", {"binarise": True}),
    Variant("denoise", "+ Entrauschen (always)", {"denoise": "always"}),
    Variant("defaults", "Standard", None),
    Variant("defaults_retry", f"Standard + 2. Versuch ({DEFAULT_RETRY_BELOW})", None, DEFAULT_RETRY_BELOW),
)
VARIANT_NAMES = tuple(variant.name for variant in VARIANTS)


@dataclass(frozen=True)
class PreprocessingConfig:
    count: int = 18
    seed: int = 1
    jobs: int = 2

    def __post_init__(self):
        if self.count < 1:
            raise ValueError(f"Die Anzahl der Rechnungen muss mindestens 1 sein, nicht {self.count}.")
        if self.jobs < 1:
            raise ValueError(f"Die Zahl der Prozesse muss mindestens 1 sein, nicht {self.jobs}.")


@dataclass(frozen=True)
class PlannedScan:
    index: int
    seed: int
    layout: str
    condition: ScanCondition

    @property
    def name(self) -> str:
        return f"{self.layout}-{self.seed}-{self.condition.name}"


def plan_scans(config: PreprocessingConfig) -> list[PlannedScan]:
    """One scan per condition in turn, layouts rotating."""
    # Conditions vary fastest, so a short run still has every condition; the layout shifts by
    # one with each round, so 18 scans hold every condition on every layout.
    return [
        PlannedScan(
            index,
            config.seed + index,
            LAYOUTS[(index + index // len(CONDITIONS)) % len(LAYOUTS)],
            CONDITIONS[index % len(CONDITIONS)],
        )
        for index in range(config.count)
    ]


# -- measuring -------------------------------------------------------------------------------


def measure(path: str, options: dict) -> dict:
    """One scan read once with ``options``: what the pipeline found, its text, its timings.

    A run Tesseract gives up on (a binarised, very noisy page can keep it busy for minutes)
    is a result of that variant, not an error of the benchmark: nothing read, counted as failed.
    """
    started = time.perf_counter()
    try:
        output = run_pipeline(Path(path).read_bytes(), options=PipelineOptions(**options))
    except (TransientOCRError, StopProcessing) as exc:
        return {"failed": str(exc), "seconds": round(time.perf_counter() - started, 1)}
    try:
        pages = output.pages
        words = [word for page in pages for word in page.content.words]
        return {
            "pages": len(pages),
            "texts": [page.content.text for page in pages],
            "confidence": sum(word.confidence for word in words) / len(words) if words else 0.0,
            "timings_ms": dict(output.timings_ms),
            "second_attempts": sum(len(page.attempts) > 1 for page in pages),
            "noise_level": max(
                (page.complexity.metrics["noise_level"] for page in pages if page.complexity), default=0
            ),
            "noisy": any(page.complexity.noisy for page in pages if page.complexity),
            "extraction": output.extraction,
            "decision": output.decision,
            "failed": "",
        }
    finally:
        output.close()


def _prepare(planned: PlannedScan, directory: Path) -> tuple[Path, list[list[str]], dict]:
    spec = random_invoice(planned.seed, layout=planned.layout, document_type=INVOICE, item_count=3 + planned.index % 6)
    condition = planned.condition
    data = render_scan(
        spec,
        seed=planned.seed,
        dpi=condition.dpi,
        noise=condition.noise,
        blur=condition.blur,
        jpeg_quality=condition.jpeg_quality,
        fmt="tiff",
    )
    path = directory / f"{planned.name}.tiff"
    path.write_bytes(data)
    return path, text_layer_lines(render_pdf(spec)), spec.ground_truth()


def _run_all(tasks: list[tuple[str, dict]], *, jobs: int, log: Log) -> list[dict]:
    if jobs == 1:
        results = []
        for number, task in enumerate(tasks, start=1):
            results.append(measure(*task))
            _progress(number, len(tasks), log)
        return results
    # Spawned, like the Celery pool; each process sets Django up once (bench_worker.setup).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=bench_worker.setup, initargs=(settings.SETTINGS_MODULE,)
    ) as pool:
        futures = [pool.submit(bench_worker.measure_preprocessing, *task) for task in tasks]
        results = []
        for number, future in enumerate(futures, start=1):
            results.append(future.result())
            _progress(number, len(tasks), log)
        return results


def _progress(number: int, total: int, log: Log) -> None:
    if number % 10 == 0 or number == total:
        log(f"  {number}/{total} Läufe")


def run_preprocessing_benchmark(config: PreprocessingConfig, *, log: Log = lambda line: None) -> dict:
    started = time.perf_counter()
    defaults = load_options()
    planned = plan_scans(config)
    figures: dict = {
        "machine": _machine(),
        "config": asdict(config),
        "defaults": {name: getattr(defaults, name) for name in (*_ALL_OFF, "retry_below_confidence")},
        "conditions": [asdict(condition) for condition in CONDITIONS],
    }
    with tempfile.TemporaryDirectory(prefix="ablage-bench-pre-") as tmp:
        log(f"Erzeuge {config.count} gescannte Rechnungen ...")
        prepared = [_prepare(scan, Path(tmp)) for scan in planned]
        # Scan-major: the variants of one scan run side by side, so a busy moment of the
        # machine falls on all variants alike rather than on one.
        tasks = [(str(path), asdict(variant.options(defaults))) for path, _, _ in prepared for variant in VARIANTS]
        log(f"{len(tasks)} Pipeline-Läufe ({len(VARIANTS)} Varianten, {config.jobs} Prozesse) ...")
        results = _run_all(tasks, jobs=config.jobs, log=log)
    cases = []
    for scan_index, (scan, (_, truth_lines, truth)) in enumerate(zip(planned, prepared, strict=True)):
        for variant_index, variant in enumerate(VARIANTS):
            result = results[scan_index * len(VARIANTS) + variant_index]
            cases.append(_case(scan, variant, result, truth_lines, truth))
    figures["variants"] = [
        _variant_figures(variant, [c for c in cases if c["variant"] == variant.name]) for variant in VARIANTS
    ]
    figures["by_condition"] = _by_condition(cases)
    figures["noise"] = _noise_figures(cases)
    _add_verdicts(figures["variants"])
    figures["cases"] = [{key: value for key, value in case.items() if key != "evaluation"} for case in cases]
    figures["seconds"] = round(time.perf_counter() - started, 1)
    return figures


def _case(scan: PlannedScan, variant: Variant, result: dict, truth_lines: list[list[str]], truth: dict) -> dict:
    if result["failed"]:
        result = {
            **result,
            "pages": 0,
            "texts": [],
            "confidence": 0.0,
            "timings_ms": {},
            "second_attempts": 0,
            "noise_level": 0.0,
            "noisy": False,
            "extraction": ExtractionResult("", 0.0),
            "decision": "",
        }
    edits = characters = 0
    for page_lines, text in zip(truth_lines, result["texts"], strict=False):
        page_edits, page_characters = character_errors(page_lines, text)
        edits, characters = edits + page_edits, characters + page_characters
    # A page the OCR lost entirely is all errors.
    for page_lines in truth_lines[len(result["texts"]) :]:
        missing = sum(len(normalise_text(line)) for line in page_lines)
        edits, characters = edits + missing, characters + missing
    evaluation = EvaluationCase(
        name=scan.name,
        document_type=INVOICE,
        layout=scan.layout,
        source=SCAN,
        truth=truth,
        result=result["extraction"],
        decision=result["decision"],
    )
    report = evaluate([evaluation])
    timings, pages = result["timings_ms"], max(1, result["pages"])
    return {
        "scan": scan.name,
        "condition": scan.condition.name,
        "hard": scan.condition.hard,
        "variant": variant.name,
        "core_correct": sum(report.fields[name].correct for name in CORE_FIELDS),
        "core_expected": sum(report.fields[name].expected for name in CORE_FIELDS),
        "auto_approved": result["decision"] == AUTO_APPROVE,
        "edits": edits,
        "characters": characters,
        "cer": round(edits / characters, 4) if characters else None,
        "confidence": round(result["confidence"], 4),
        "preprocess_ms_per_page": round(timings.get("preprocess", 0.0) / pages, 1),
        "ocr_ms_per_page": round(timings.get("ocr", 0.0) / pages, 1),
        "retry_ms_per_page": round(timings.get("retry", 0.0) / pages, 1),
        "second_attempts": result["second_attempts"],
        "noise_level": result["noise_level"],
        "noisy": result["noisy"],
        "failed": result["failed"],
    }


def _aggregate(cases: list[dict]) -> dict:
    expected = sum(case["core_expected"] for case in cases)
    characters = sum(case["characters"] for case in cases)
    count = len(cases)
    return {
        "documents": count,
        "core_correct": sum(case["core_correct"] for case in cases),
        "core_expected": expected,
        "core_rate": round(sum(case["core_correct"] for case in cases) / expected, 4) if expected else None,
        "auto_approved": sum(case["auto_approved"] for case in cases),
        # Pooled over all characters: a long invoice weighs more than a short one, as it should.
        "cer": round(sum(case["edits"] for case in cases) / characters, 4) if characters else None,
        "confidence": round(sum(case["confidence"] for case in cases) / count, 4),
        "preprocess_ms_per_page": round(sum(case["preprocess_ms_per_page"] for case in cases) / count, 1),
        "ocr_ms_per_page": round(sum(case["ocr_ms_per_page"] for case in cases) / count, 1),
        "retry_ms_per_page": round(sum(case["retry_ms_per_page"] for case in cases) / count, 1),
        "second_attempts": sum(case["second_attempts"] for case in cases),
        "failed": sum(bool(case["failed"]) for case in cases),
    }


def _variant_figures(variant: Variant, cases: list[dict]) -> dict:
    return {"name": variant.name, "label": variant.label, **_aggregate(cases)}


def _by_condition(cases: list[dict]) -> dict:
    return {
        condition.name: {
            variant.name: _aggregate(
                [c for c in cases if c["condition"] == condition.name and c["variant"] == variant.name]
            )
            for variant in VARIANTS
        }
        for condition in CONDITIONS
        if any(case["condition"] == condition.name for case in cases)
    }


def _noise_figures(cases: list[dict]) -> dict:
    """Whether ``denoise=auto`` would have run on each scan, next to what denoising did for it."""
    by_scan: dict[str, dict] = {}
    for case in cases:
        entry = by_scan.setdefault(case["scan"], {"scan": case["scan"], "noise_level": 0.0, "noisy": False})
        if not case["failed"]:
            entry["noise_level"], entry["noisy"] = case["noise_level"], case["noisy"]
        if case["variant"] in (BASELINE, "denoise"):
            entry[f"cer_{case['variant']}"] = case["cer"]
            entry[f"core_{case['variant']}"] = case["core_correct"]
    return {"threshold_flagged": sum(entry["noisy"] for entry in by_scan.values()), "scans": list(by_scan.values())}


def verdict(candidate: dict, baseline: dict) -> str:
    """helps / neutral / hurts: fields first, the character error rate where the fields tie."""
    fields = candidate["core_correct"] - baseline["core_correct"]
    if fields >= VERDICT_MIN_FIELDS:
        return "helps"
    if fields <= -VERDICT_MIN_FIELDS:
        return "hurts"
    before, after = baseline["cer"], candidate["cer"]
    if before is None or after is None:
        return "neutral"
    change = after - before
    visible = abs(change) >= VERDICT_MIN_CER_ABSOLUTE and abs(change) >= VERDICT_MIN_CER_RELATIVE * max(before, 1e-9)
    if visible and change < 0 and fields >= 0:
        return "helps"
    if visible and change > 0 and fields <= 0:
        return "hurts"
    return "neutral"


def _add_verdicts(variants: list[dict]) -> None:
    baseline = next(variant for variant in variants if variant["name"] == BASELINE)
    for variant in variants:
        variant["verdict"] = "" if variant is baseline else verdict(variant, baseline)


def _machine() -> dict:
    from ocr.benchmarks import machine_info

    info = machine_info()
    return {key: info[key] for key in ("cpu_model", "cores", "usable_cores", "load_average", "tesseract", "languages")}


# -- text report -----------------------------------------------------------------------------

_VERDICT_LABELS = {"helps": "hilft", "neutral": "neutral", "hurts": "schadet", "": ""}


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f} %"


def _condition_cell(figures: dict) -> str:
    return f"{_pct(figures['cer'], 1):>8s} {figures['core_correct']:2d}/{figures['core_expected']:<2d}"


def format_preprocessing_report(figures: dict) -> str:
    machine, config = figures["machine"], figures["config"]
    defaults = ", ".join(f"{name}={value}" for name, value in figures["defaults"].items())
    lines = [
        f"== bench preprocessing: {machine['cpu_model']}, {machine['cores']} Kerne, {machine['tesseract']}, "
        f"Sprachen {machine['languages']}",
        f"   {config['count']} gescannte Rechnungen ab Seed {config['seed']}, {config['jobs']} Prozesse; "
        f"Standard in Kraft: {defaults}",
        "   Bedingungen: "
        + "; ".join(
            f"{c['name']} (Rauschen {c['noise']:g}, Unschärfe {c['blur']:g}, {c['dpi']} dpi"
            + (f", JPEG {c['jpeg_quality']}" if c["jpeg_quality"] else "")
            + ")"
            for c in figures["conditions"]
        ),
        "",
        f"{'Variante':34s} {'Kernfelder':>16s} {'CER':>8s} {'Konfidenz':>9s} {'Vorverarb.':>10s} "
        f"{'OCR':>8s} {'2. Versuch':>10s} {'Freigabe':>8s}  Urteil",
    ]
    for variant in figures["variants"]:
        fields = f"{_pct(variant['core_rate'])} ({variant['core_correct']}/{variant['core_expected']})"
        failed = f" ({variant['failed']} ausgefallen)" if variant["failed"] else ""
        retry = (
            f"{variant['retry_ms_per_page']:.0f} ms/{variant['second_attempts']}x"
            if variant["second_attempts"]
            else "–"
        )
        lines.append(
            f"{variant['label']:34s} {fields:>16s} {_pct(variant['cer'], 2):>8s} {variant['confidence']:9.3f} "
            f"{variant['preprocess_ms_per_page']:7.0f} ms {variant['ocr_ms_per_page']:5.0f} ms {retry:>10s} "
            f"{variant['auto_approved']:8d}  {_VERDICT_LABELS[variant['verdict']]}{failed}"
        )
    lines += ["", "CER / Kernfelder richtig je Bedingung"]
    names = [variant["name"] for variant in figures["variants"]]
    lines.append(f"  {'':26s} " + " ".join(f"{name[:14]:>14s}" for name in names))
    for condition, per_variant in figures["by_condition"].items():
        cells = " ".join(_condition_cell(per_variant[name]) for name in names)
        lines.append(f"  {condition:26s} {cells}")
    noise = figures["noise"]
    lines += [
        "",
        f"Rauschmaß der Komplexitätsanalyse (denoise=auto ab NOISY_FROM): {noise['threshold_flagged']} von "
        f"{len(noise['scans'])} Scans als verrauscht erkannt",
    ]
    for entry in noise["scans"]:
        lines.append(
            f"  {entry['scan']:34s} Rauschen {entry['noise_level']:5.1f} {'verrauscht' if entry['noisy'] else '':10s}"
            f"  CER {_pct(entry.get('cer_baseline'), 2):>8s} -> entrauscht {_pct(entry.get('cer_denoise'), 2):>8s}"
            f"  Kernfelder {entry.get('core_baseline')} -> {entry.get('core_denoise')}"
        )
    lines.append(f"\nLaufzeit {figures['seconds']:.0f} s")
    return "\n".join(lines)
