"""How well extraction reads generated documents, measured against their ground truth.

``evaluate(cases)`` scores extraction results: per field the share of documents whose
normalised value equals the truth (per document type too), and *auto-approve precision*, the
share of automatically approved documents whose core fields are all right. A wrong value in a
core field of an approved document is an error nobody looks at, so that figure matters most.

``run_case`` produces a case the way production does: ``ablage.testing`` draws and renders the
document (born-digital PDF, or a degraded scan), ``ocr.pipeline.run_pipeline`` reads it
(text layer or real Tesseract) and decides. ``manage.py evaluate_extraction`` prints the table.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from ablage.testing.invoices import random_invoice, render_pdf
from ablage.testing.scans import render_scan
from extraction.decision import AUTO_APPROVE
from extraction.types import ExtractionResult

# A wrong value in one of these makes an automatic approval a booking error.
CORE_FIELDS = (
    "invoice_number", "invoice_date", "supplier_name", "supplier_vat_id", "iban",
    "net_amount", "vat_amount", "total_amount", "currency",
)  # fmt: skip
OTHER_FIELDS = ("due_date", "bic", "order_number", "customer_number")
FIELDS = CORE_FIELDS + OTHER_FIELDS

# The mix of a typical inbox: mostly invoices, now and then a credit note, delivery note or letter.
DOCUMENT_MIX = ("invoice", "invoice", "credit_note", "invoice", "delivery_note", "invoice", "letter")
DEFAULT_THRESHOLD = 0.85
BORN_DIGITAL = "born_digital"
SCAN = "scan"


@dataclass
class EvaluationCase:
    """One document read by the engine, with the truth it should have found."""

    name: str
    document_type: str
    layout: str
    source: str
    truth: dict
    result: ExtractionResult
    decision: str
    seconds: float = 0.0


@dataclass
class FieldScore:
    correct: int = 0
    expected: int = 0
    false_positives: int = 0  # a value where the page prints none

    @property
    def rate(self) -> float | None:
        return self.correct / self.expected if self.expected else None


@dataclass
class Miss:
    case: str
    field: str
    got: str | None
    expected: str | None


@dataclass
class EvaluationReport:
    documents: int = 0
    type_correct: int = 0
    fields: dict[str, FieldScore] = field(default_factory=lambda: {name: FieldScore() for name in FIELDS})
    by_type: dict[str, dict[str, FieldScore]] = field(default_factory=dict)
    auto_approved: int = 0
    auto_approved_correct: int = 0
    wrong_auto_approvals: list[str] = field(default_factory=list)
    misses: list[Miss] = field(default_factory=list)

    @property
    def auto_approve_precision(self) -> float | None:
        return self.auto_approved_correct / self.auto_approved if self.auto_approved else None

    def rate(self, name: str) -> float | None:
        return self.fields[name].rate


def _extracted(result: ExtractionResult, name: str) -> str | None:
    value = result.fields.get(name)
    return value.normalized if value is not None else None


def evaluate(cases: Iterable[EvaluationCase]) -> EvaluationReport:
    report = EvaluationReport()
    for case in cases:
        report.documents += 1
        type_right = case.result.document_type == case.document_type
        report.type_correct += type_right
        if not type_right:
            report.misses.append(Miss(case.name, "document_type", case.result.document_type, case.document_type))
        per_type = report.by_type.setdefault(case.document_type, {name: FieldScore() for name in FIELDS})
        core_right = type_right
        for name in FIELDS:
            expected = case.truth.get(name)
            got = _extracted(case.result, name)
            right = got == expected
            for score in (report.fields[name], per_type[name]):
                if expected is None:
                    score.false_positives += got is not None
                else:
                    score.expected += 1
                    score.correct += right
            if not right:
                report.misses.append(Miss(case.name, name, got, expected))
                core_right = core_right and name not in CORE_FIELDS
        if case.decision == AUTO_APPROVE:
            report.auto_approved += 1
            if core_right:
                report.auto_approved_correct += 1
            else:
                report.wrong_auto_approvals.append(case.name)
    return report


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:5.1f} %"


def format_report(report: EvaluationReport, *, title: str = "", show_misses: int = 0) -> str:
    types = sorted(report.by_type)
    header = f"{'Feld':18s} {'alle':>9s}  " + "  ".join(f"{name:>13s}" for name in types) + "  falsch-positiv"
    lines = [title] if title else []
    lines.append(f"Dokumente: {report.documents}, Dokumenttyp richtig: {report.type_correct}/{report.documents}")
    lines += [header, "-" * len(header)]
    for name in FIELDS:
        score = report.fields[name]
        cells = "  ".join(f"{_percent(report.by_type[t][name].rate):>13s}" for t in types)
        marker = "*" if name in CORE_FIELDS else " "
        count = f"({score.correct}/{score.expected})" if score.expected else ""
        lines.append(f"{marker}{name:17s} {_percent(score.rate):>9s}  {cells}  {score.false_positives:3d}  {count}")
    precision = report.auto_approve_precision
    lines.append(
        f"Automatisch freigegeben: {report.auto_approved}/{report.documents}; davon alle Kernfelder (*) richtig: "
        f"{report.auto_approved_correct} (Präzision {_percent(precision).strip()})"
    )
    if report.wrong_auto_approvals:
        lines.append("Falsch freigegeben: " + ", ".join(report.wrong_auto_approvals))
    for miss in report.misses[:show_misses]:
        lines.append(f"  {miss.case:28s} {miss.field:16s} gelesen {miss.got!r}, erwartet {miss.expected!r}")
    return "\n".join(lines)


@dataclass(frozen=True)
class PlannedCase:
    seed: int
    layout: str
    document_type: str

    @property
    def name(self) -> str:
        return f"{self.document_type}-{self.layout}-{self.seed}"


def plan(count: int, *, seed: int, layouts: tuple[str, ...]) -> list[PlannedCase]:
    """``count`` documents from consecutive seeds, layouts in turn, types in the inbox mix."""
    if count < 1:
        raise ValueError(f"Die Anzahl muss mindestens 1 sein, nicht {count}.")
    if not layouts:
        raise ValueError("Mindestens ein Layout ist nötig.")
    return [
        PlannedCase(
            seed + index, layouts[index % len(layouts)], DOCUMENT_MIX[(index // len(layouts)) % len(DOCUMENT_MIX)]
        )
        for index in range(count)
    ]


def run_case(
    planned: PlannedCase, *, scanned: bool, threshold: float = DEFAULT_THRESHOLD, supplier_lookup=None
) -> EvaluationCase:
    """Generate the document, run the real pipeline on it and keep what it decided.

    ``supplier_lookup`` (``ocr.pipeline.SupplierLookup``) is the supplier master data; without it
    no supplier is confirmed and no scan is approved automatically.
    """
    from ocr.pipeline import run_pipeline  # the pipeline imports this app's engine; import late

    spec = random_invoice(planned.seed, layout=planned.layout, document_type=planned.document_type)
    # A multi-page TIFF keeps every page and its resolution, as an office scanner sends it.
    data = render_scan(spec, seed=planned.seed, fmt="tiff") if scanned else render_pdf(spec)
    output = run_pipeline(data, auto_approve_threshold=threshold, supplier_lookup=supplier_lookup)
    try:
        seconds = sum(output.timings_ms.values()) / 1000
        return EvaluationCase(
            name=planned.name,
            document_type=planned.document_type,
            layout=planned.layout,
            source=SCAN if scanned else BORN_DIGITAL,
            truth=spec.ground_truth(),
            result=output.extraction,
            decision=output.decision,
            seconds=seconds,
        )
    finally:
        output.close()


def run_cases(
    planned: list[PlannedCase], *, scanned: bool, threshold: float = DEFAULT_THRESHOLD, supplier_lookup=None
) -> list[EvaluationCase]:
    # One after the other: PDFium is not thread-safe, not even across different documents
    # (pypdfium2's documentation: concurrent calls "crash or corrupt the process"). Two threads
    # rendering at once made this module's results vary from run to run and once crashed the
    # test process. ``manage.py bench extraction`` parallelises with processes instead.
    return [run_case(case, scanned=scanned, threshold=threshold, supplier_lookup=supplier_lookup) for case in planned]
