"""The learning curve: how quickly supplier rules learned from corrections fix a layout nobody configured.

For each supplier of the generated corpus, documents of one layout the built-in extractors do not
know are fed one by one. Each is first read with the rules learned so far (that reading is
scored), then "reviewed": its ground truth becomes the clerk's corrections, and learning runs
once the supplier has ``min_documents`` reviewed documents, exactly as the ``extraction.tasks.
supplier_learn`` task does (same derivation, same evaluation, rules as in-memory snapshots
instead of rows).

Unseen layouts: the generated layouts A, B and C with their header labels replaced by words no
built-in extractor knows ("Vorgang:" for "Rechnungsnummer:" ...), one label set per supplier;
the stored words are rewritten, boxes unchanged, so the page reads as a new layout would.
Born-digital PDFs only: the stored-words path learning uses is the same for scans.
"""

import time
from dataclasses import dataclass, field

from ablage.testing.invoices import random_invoice, render_pdf
from extraction.engine import extract
from extraction.learning.rules import Candidate, learn, make_example
from extraction.rules import RuleSpec
from ocr.benchmarks import BenchmarkError
from ocr.sources import open_source
from ocr.types import PageContent, Word

HEADER_FIELDS = ("invoice_number", "invoice_date", "customer_number", "order_number")
CHECKPOINTS = (0, 1, 2, 5, 10)
TARGET_FROM_DOCUMENT = 3
TARGET_SHARE = 0.9

# One label set per supplier (by its index): the printed label word -> the unseen one.
_NUMBER = ("Vorgang", "Belegkennung", "Vorgangsnummer", "Dokument-ID")
_DATE = ("Erstellt", "Ausgestellt", "Stichtag", "Belegtag")
_CUSTOMER = ("Mandant", "Partnerkennung", "Kontokennung", "Debitor")
_ORDER = ("Auftragsbezug", "Anforderung", "Abrufkennung", "Vorgangsbezug")


def relabelling(index: int) -> dict[str, str]:
    number, date = _NUMBER[index % 4], _DATE[(index // 2) % 4]
    customer, order = _CUSTOMER[(index + 1) % 4], _ORDER[(index + 3) % 4]
    return {
        "Rechnungsnummer:": f"{number}:",
        "Rechnungsdatum:": f"{date}:",
        "Kundennummer:": f"{customer}:",
        "Bestellnummer:": f"{order}:",
        "Kundennummer": customer,
        "Bestellnummer": order,
        "Nr.": "Kennung",
        "Datum": date,
        "Kundennr.:": f"{customer}:",
        "Bestellung:": f"{order}:",
        "vom": "erstellt",
    }


@dataclass
class CurveConfig:
    suppliers: int = 6
    documents: int = 11
    min_documents: int = 2
    seed: int = 1
    layouts: tuple[str, ...] = ("A", "B", "C")

    def __post_init__(self):
        if not 1 <= self.suppliers <= 40:
            raise ValueError(f"suppliers muss zwischen 1 und 40 liegen, nicht {self.suppliers}.")
        if not 2 <= self.documents <= 50:
            raise ValueError(f"documents muss zwischen 2 und 50 liegen, nicht {self.documents}.")
        if self.min_documents < 1:
            raise ValueError("min_documents muss mindestens 1 sein.")


@dataclass
class SupplierRun:
    supplier: str
    layout: str
    # Per document in order: (header fields right, header fields printed).
    scores: list[tuple[int, int]] = field(default_factory=list)
    rules: int = 0
    misses: list[list[str]] = field(default_factory=list)


def _pages(spec, labels: dict[str, str]) -> list[PageContent]:
    with open_source(render_pdf(spec), max_pages=20) as source:
        pages = []
        for index in range(source.page_count):
            words = [
                Word(labels.get(word.text, word.text), word.bbox, word.confidence, word.line)
                for word in source.text_layer_words(index)
            ]
            pages.append(PageContent(index + 1, words, "text_layer", "pdf_text"))
        return pages


def _documents(config: CurveConfig) -> dict[str, list]:
    """``config.documents`` invoices for each of the first ``config.suppliers`` suppliers drawn."""
    by_supplier: dict[str, list] = {}
    seed = config.seed
    while True:
        spec = random_invoice(seed)
        seed += 1
        name = spec.supplier.name
        if name not in by_supplier and len(by_supplier) >= config.suppliers:
            continue
        documents = by_supplier.setdefault(name, [])
        if len(documents) < config.documents:
            documents.append(seed - 1)
        if len(by_supplier) >= config.suppliers and all(len(d) >= config.documents for d in by_supplier.values()):
            return by_supplier
        if seed - config.seed > 20000:
            raise BenchmarkError(
                f"Der Korpus hat keine {config.suppliers} Lieferanten mit je {config.documents} Rechnungen."
            )


def run_supplier(index: int, name: str, seeds: list[int], config: CurveConfig) -> SupplierRun:
    layout = config.layouts[index % len(config.layouts)]
    labels = relabelling(index)
    run = SupplierRun(name, f"{layout}*")
    supplier_id = f"lieferant-{index}"
    learned: dict[str, tuple[Candidate, RuleSpec]] = {}
    reviewed = []
    examples, examples_for = [], None
    for position, seed in enumerate(seeds):
        spec = random_invoice(seed, layout=layout)
        truth = {key: value for key, value in spec.ground_truth().items() if isinstance(value, str)}
        pages = _pages(spec, labels)
        specs = [rule for _, rule in learned.values()]
        result = extract(pages, rules=specs, supplier_id=supplier_id)
        printed = [name for name in HEADER_FIELDS if truth.get(name)]
        right = sum(result.fields[n].normalized == truth[n] for n in printed if n in result.fields)
        run.scores.append((right, len(printed)))
        run.misses.append([n for n in printed if n not in result.fields or result.fields[n].normalized != truth[n]])
        reviewed.append((f"{name}-{position}", pages, truth))
        if len(reviewed) < config.min_documents:
            continue
        learned_ids = {rule.id for _, rule in learned.values()}
        fingerprint = tuple(sorted((rule.id, rule.version) for rule in specs))
        if fingerprint != examples_for:
            examples, examples_for = [], fingerprint  # the rules changed: every reading changes
        examples += [
            make_example(key, stored, accepted, specs=specs, learned_ids=learned_ids, supplier_id=supplier_id)
            for key, stored, accepted in reviewed[len(examples) :]
        ]
        choices = learn(
            examples,
            supplier_id=supplier_id,
            document_type="invoice",
            current_keys={field_name: candidate.key for field_name, (candidate, _) in learned.items()},
        )
        for field_name, choice in choices.items():
            version = learned[field_name][1].version + 1 if field_name in learned else 1
            learned[field_name] = (
                choice.candidate,
                RuleSpec(
                    id=f"gelernt-{field_name}",
                    name=f"gelernt-{field_name}",
                    field_name=field_name,
                    rule_type=choice.candidate.rule_type,
                    config=choice.candidate.config,
                    version=version,
                    supplier_id=supplier_id,
                    document_type="invoice",
                    priority=100,
                ),
            )
    run.rules = len(learned)
    return run


def run_curve(config: CurveConfig, *, log=lambda line: None) -> dict:
    started = time.perf_counter()
    runs = []
    for index, (name, seeds) in enumerate(_documents(config).items()):
        run = run_supplier(index, name, seeds, config)
        log(f"{name} ({run.layout}): " + " ".join(f"{right}/{total}" for right, total in run.scores))
        log("  falsch: " + "; ".join(",".join(miss) or "-" for miss in run.misses))
        runs.append(run)
    curve = {}
    for checkpoint in CHECKPOINTS:
        scores = [run.scores[checkpoint] for run in runs if checkpoint < len(run.scores)]
        if not scores:
            continue
        right, total = sum(s[0] for s in scores), sum(s[1] for s in scores)
        curve[str(checkpoint)] = {
            "documents": len(scores),
            "field_accuracy": round(right / total, 4) if total else None,
            "fully_correct": round(sum(s[0] == s[1] for s in scores) / len(scores), 4),
        }
    later = [score for run in runs for score in run.scores[TARGET_FROM_DOCUMENT - 1 :]]
    share = sum(right == total for right, total in later) / len(later) if later else None
    return {
        "suppliers": len(runs),
        "documents_per_supplier": config.documents,
        "min_documents": config.min_documents,
        "header_fields": list(HEADER_FIELDS),
        "curve": curve,
        "fully_correct_from_third": round(share, 4) if share is not None else None,
        "target": TARGET_SHARE,
        "target_met": share is not None and share >= TARGET_SHARE,
        "rules_learned": sum(run.rules for run in runs),
        "per_supplier": [
            {"supplier": run.supplier, "layout": run.layout, "scores": [list(s) for s in run.scores]} for run in runs
        ],
        "seconds": round(time.perf_counter() - started, 1),
    }


def format_curve(figures: dict) -> str:
    lines = [
        f"Lernkurve: {figures['suppliers']} Lieferanten mit ungesehenem Layout, "
        f"Lernen ab {figures['min_documents']} geprüften Dokumenten; Kopffelder: {', '.join(figures['header_fields'])}",
        f"{'nach Dokumenten':>16s} {'Dokumente':>10s} {'Feldgenauigkeit':>16s} {'ganz richtig':>13s}",
    ]
    for checkpoint, row in figures["curve"].items():
        accuracy = "–" if row["field_accuracy"] is None else f"{row['field_accuracy'] * 100:.1f} %"
        lines.append(f"{checkpoint:>16s} {row['documents']:>10d} {accuracy:>16s} {row['fully_correct'] * 100:>11.1f} %")
    share = figures["fully_correct_from_third"]
    verdict = "erreicht" if figures["target_met"] else "VERFEHLT"
    lines.append(
        f"Ab dem {TARGET_FROM_DOCUMENT}. Dokument ganz richtig: "
        f"{'–' if share is None else f'{share * 100:.1f} %'} (Ziel {figures['target'] * 100:.0f} %: {verdict}); "
        f"gelernte Regeln: {figures['rules_learned']}; {figures['seconds']} s"
    )
    return "\n".join(lines)
