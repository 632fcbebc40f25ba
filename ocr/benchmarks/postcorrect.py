"""Does the German word-list post-correction help? (``manage.py bench postcorrect``)

The generated scans of ``bench preprocessing`` (every scan condition, layouts rotating) are read
once by the real pipeline with post-correction off, Tesseract only. The same words are then
corrected (``ocr.postcorrect.correct_words``) and both readings are scored against the text
layer of the same invoice rendered born-digital: character error rate (the line-based,
order-free CER of ``bench preprocessing``), the core fields extraction finds from each reading,
and for every changed word whether the truth holds the word before or after the change (fixed,
broken, neither). The verdict uses the preprocessing bench's rule: fields first, then a CER
change that is both relative (5 %) and visible (0.2 percentage points).
"""

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from extraction.engine import extract
from extraction.evaluation import CORE_FIELDS, SCAN, EvaluationCase, evaluate
from ocr import postcorrect
from ocr.benchmarks.preprocessing import (
    CONDITIONS,
    PreprocessingConfig,
    _machine,
    _prepare,
    character_errors,
    plan_scans,
    verdict,
)
from ocr.errors import StopProcessing, TransientOCRError
from ocr.options import load_options
from ocr.pipeline import run_pipeline
from ocr.types import PageContent

Log = Callable[[str], None]


class BenchmarkError(Exception):
    pass


@dataclass(frozen=True)
class PostcorrectConfig:
    count: int = 12
    seed: int = 1

    def __post_init__(self):
        if self.count < 1:
            raise ValueError(f"Die Anzahl der Rechnungen muss mindestens 1 sein, nicht {self.count}.")


def _core_correct(name: str, layout: str, truth: dict, pages: list[PageContent]) -> tuple[int, int]:
    report = evaluate(
        [EvaluationCase(name, "invoice", layout, SCAN, truth, extract(pages), decision="")],
    )
    return (
        sum(report.fields[field].correct for field in CORE_FIELDS),
        sum(report.fields[field].expected for field in CORE_FIELDS),
    )


def _truth_words(lines: list[str]) -> set[str]:
    return {word.strip(".,;:!?()\"'") for line in lines for word in line.split()}


def run_postcorrect_benchmark(config: PostcorrectConfig, *, log: Log = lambda line: None) -> dict:
    started = time.perf_counter()
    try:
        vocabulary = postcorrect.known_words()
    except postcorrect.WordListMissing as missing:
        raise BenchmarkError(f"{missing} (Debian: apt-get install wngerman)") from None
    options = load_options().but(postcorrect=False, searchable_pdf=False, backend="tesseract")
    cases = []
    with tempfile.TemporaryDirectory(prefix="ablage-bench-postcorrect-") as tmp:
        planned_scans = plan_scans(PreprocessingConfig(count=config.count, seed=config.seed))
        for number, planned in enumerate(planned_scans, start=1):
            path, truth_lines, truth = _prepare(planned, Path(tmp))
            try:
                output = run_pipeline(path.read_bytes(), options=options)
            except (TransientOCRError, StopProcessing) as exc:
                log(f"  {planned.name}: nicht gelesen ({exc})")
                continue
            try:
                before_pages = [page.content for page in output.pages]
            finally:
                output.close()
            case = {"scan": planned.name, "condition": planned.condition.name, "changed": 0, "fixed": 0, "broken": 0}
            after_pages = []
            for side in ("before", "after"):
                case[f"edits_{side}"] = case["characters"] = 0
            for page_lines, content in zip(truth_lines, before_pages, strict=False):
                words, _changed = postcorrect.correct_words(content.words, vocabulary=vocabulary)
                after = PageContent(**{**_fields_of(content), "words": words})
                after_pages.append(after)
                truth_words = _truth_words(page_lines)
                for old, new in zip(content.words, words, strict=True):
                    if old.text != new.text:
                        case["changed"] += 1
                        old_core, new_core = old.text.strip(".,;:!?()\"'"), new.text.strip(".,;:!?()\"'")
                        case["fixed"] += new_core in truth_words and old_core not in truth_words
                        case["broken"] += old_core in truth_words and new_core not in truth_words
                edits_before, characters = character_errors(page_lines, content.text)
                edits_after, _ = character_errors(page_lines, after.text)
                case["edits_before"] += edits_before
                case["edits_after"] += edits_after
                case["characters"] += characters
            case["core_before"], case["core_expected"] = _core_correct(
                planned.name, planned.layout, truth, before_pages
            )
            case["core_after"], _ = _core_correct(planned.name, planned.layout, truth, after_pages)
            cases.append(case)
            log(
                f"  {number}/{len(planned_scans)} {planned.name}: {case['changed']} Wörter geändert "
                f"({case['fixed']} richtig, {case['broken']} falsch), Fehler {case['edits_before']} -> "
                f"{case['edits_after']}"
            )
    if not cases:
        raise BenchmarkError("Kein Scan wurde gelesen; es gibt nichts zu vergleichen.")
    figures = {
        "machine": _machine(),
        "config": asdict(config),
        "low_confidence": postcorrect.LOW_CONFIDENCE,
        "overall": _summary(cases),
        "by_condition": {
            condition.name: _summary([case for case in cases if case["condition"] == condition.name])
            for condition in CONDITIONS
            if any(case["condition"] == condition.name for case in cases)
        },
        "cases": cases,
    }
    overall = figures["overall"]
    figures["verdict"] = verdict(
        {"core_correct": overall["core_after"], "cer": overall["cer_after"]},
        {"core_correct": overall["core_before"], "cer": overall["cer_before"]},
    )
    figures["seconds"] = round(time.perf_counter() - started, 1)
    return figures


def _fields_of(content: PageContent) -> dict:
    return {name: getattr(content, name) for name in PageContent.__dataclass_fields__}


def _summary(cases: list[dict]) -> dict:
    characters = sum(case["characters"] for case in cases)
    summary = {name: sum(case[name] for case in cases) for name in ("changed", "fixed", "broken")}
    for side in ("before", "after"):
        summary[f"cer_{side}"] = round(sum(case[f"edits_{side}"] for case in cases) / characters, 4)
        summary[f"core_{side}"] = sum(case[f"core_{side}"] for case in cases)
    summary["core_expected"] = sum(case["core_expected"] for case in cases)
    summary["scans"] = len(cases)
    return summary


def format_postcorrect_report(figures: dict) -> str:
    lines = [
        f"OCR-Nachkorrektur (Wörterbuch, Wörter unter Konfidenz {figures['low_confidence']}), "
        f"{figures['overall']['scans']} Scans, {figures['seconds']:.0f} s",
        "",
        f"  {'Bedingung':28s} {'CER vorher':>10s} {'nachher':>8s} {'Felder vorher':>14s} {'nachher':>8s}"
        f" {'geändert':>9s} {'richtig':>8s} {'falsch':>7s}",
    ]
    rows = [*figures["by_condition"].items(), ("gesamt", figures["overall"])]
    for name, summary in rows:
        lines.append(
            f"  {name:28s} {summary['cer_before'] * 100:9.2f}% {summary['cer_after'] * 100:7.2f}%"
            f" {summary['core_before']:>8d}/{summary['core_expected']:<5d} {summary['core_after']:>8d}"
            f" {summary['changed']:>9d} {summary['fixed']:>8d} {summary['broken']:>7d}"
        )
    labels = {"helps": "hilft", "neutral": "neutral", "hurts": "schadet"}
    lines += ["", f"Urteil: {labels[figures['verdict']]} (Felder zuerst, dann CER; Regel wie bench preprocessing)"]
    return "\n".join(lines)
