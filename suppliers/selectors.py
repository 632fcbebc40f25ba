"""Reads about suppliers: what a document tells us about its supplier, the list and detail
screens' data, and likely duplicates."""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Avg, Case, Count, DateField, DecimalField, F, Q, QuerySet, Sum, When
from django.db.models.functions import Coalesce, TruncDate, TruncMonth, TruncYear
from django.utils import timezone
from django.utils.translation import gettext

from documents.models import Document, OCRResult
from suppliers.matching import (
    match_supplier,
    name_key,
    normalize_email,
    normalize_tax_number,
    normalize_vat_id,
    supplier_names,
)
from suppliers.models import Supplier, SupplierBankAccount, normalize_iban


def document_field_values(document: Document) -> dict[str, str]:
    """The document's extracted fields by name, normalised value where there is one."""
    return {field.name: (field.normalized_value or field.value).strip() for field in document.fields.all()}


def document_text(document: Document) -> str:
    """The document's full text: its pages in order, else the current OCR result."""
    pages = [text for text in document.pages.order_by("page_number").values_list("text", flat=True) if text]
    if pages:
        return "\n".join(pages)
    result = OCRResult.objects.filter(document=document, is_current=True).order_by("-created_at").first()
    return result.text if result else ""


def document_sender_email(document: Document) -> str:
    """For documents that came by e-mail the reference is the sender's address; otherwise none."""
    if document.source != Document.Source.EMAIL:
        return ""
    return normalize_email(document.source_reference)


def supplier_prefill(fields: dict[str, str]) -> dict[str, str]:
    """Supplier master data as a document prints it (keys are ``Supplier`` fields)."""
    name = re.sub(r"\s+", " ", fields.get("supplier_name", "")).strip()
    return {
        "name": name,
        # The printed name is the legal name only when it carries the legal form.
        "legal_name": name if name_key(name).legal_forms else "",
        "vat_id": normalize_vat_id(fields.get("supplier_vat_id", "")),
        "tax_number": fields.get("supplier_tax_number", "").strip()
        if normalize_tax_number(fields.get("supplier_tax_number", ""))
        else "",
        "iban": normalize_iban(fields.get("iban", "")),
        "bic": "".join(fields.get("bic", "").split()).upper(),
    }


def supplier_suggestion(document: Document) -> dict[str, str] | None:
    """Pre-filled values for "Lieferant anlegen", or None when the document already has a
    supplier, a known supplier matches, or the document names none."""
    if document.supplier_id is not None and Supplier.objects.filter(pk=document.supplier_id).exists():
        return None
    fields = document_field_values(document)
    match = match_supplier(fields=fields, text=document_text(document), sender_email=document_sender_email(document))
    if match is not None:
        return None
    values = supplier_prefill(fields)
    if not any(values.values()):
        return None
    return values


# --- screens and API -----------------------------------------------------------------------------


def can_edit_suppliers(user) -> bool:
    """Master data is written by administrators and reviewers; everyone else reads."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.has_perm("suppliers.change_supplier") or user.has_perm("documents.review_document")


def supplier_list(*, query: str = "", active: str = "", industry: str = "", tag: str = "") -> QuerySet[Supplier]:
    """Suppliers for the list screen and the API. ``query`` searches names (also name
    variations), numbers and identifiers; ``active`` is "1", "0" or "" (all)."""
    suppliers = Supplier.objects.prefetch_related("tags").annotate(document_count=Count("documents", distinct=True))
    query = (query or "").strip()
    if query:
        compact = re.sub(r"\s", "", query).upper()
        suppliers = suppliers.filter(
            Q(name__icontains=query)
            | Q(legal_name__icontains=query)
            | Q(supplier_number__icontains=query)
            | Q(city__icontains=query)
            | Q(vat_id__icontains=compact)
            | Q(tax_number__icontains=query)
            | Q(bank_accounts__iban__icontains=compact)
            | Q(name_variations__icontains=query)
        ).distinct()
    if active in ("1", "0"):
        suppliers = suppliers.filter(is_active=active == "1")
    if industry:
        suppliers = suppliers.filter(industry__iexact=industry)
    if tag:
        suppliers = suppliers.filter(tags__name=tag)
    return suppliers.order_by("name")


def supplier_industries() -> list[str]:
    return sorted(set(Supplier.objects.exclude(industry="").values_list("industry", flat=True)), key=str.casefold)


@dataclass(frozen=True)
class SupplierStatistics:
    """What the user's documents of one supplier say: counts, totals, quality."""

    document_count: int
    average_confidence: float | None
    review_rate: float | None  # share of processed documents a person had to review
    months: list[dict]  # last 12 months, oldest first: {"month": date, "total": Decimal, "count": int}
    years: list[dict]  # newest first: {"year": int, "total": Decimal, "count": int}


def _signed_total():
    # A Gutschrift is printed with positive amounts; in the supplier's totals it reduces what we paid.
    return Sum(
        Case(
            When(document_type=Document.DocumentType.CREDIT_NOTE, then=-F("total_amount")),
            default=F("total_amount"),
            output_field=DecimalField(max_digits=16, decimal_places=2),
        )
    )


def supplier_statistics(*, supplier: Supplier, documents: QuerySet[Document], today: date | None = None):
    """Statistics over ``documents`` (already restricted to what the user may see) of ``supplier``.

    Rejected documents are left out of the totals: they were never bills to pay.
    """
    today = today or timezone.localdate()
    documents = documents.filter(supplier=supplier)
    summary = documents.aggregate(
        count=Count("id"),
        confidence=Avg("overall_confidence"),
        decided=Count("id", filter=~Q(decision="")),
        reviewed=Count("id", filter=Q(decision=Document.Decision.REVIEW)),
    )
    billed = (
        documents.exclude(status=Document.Status.REJECTED)
        .filter(total_amount__isnull=False)
        .annotate(day=Coalesce("document_date", TruncDate("created_at"), output_field=DateField()))
    )
    by_month = {
        row["month"]: row
        for row in billed.annotate(month=TruncMonth("day"))
        .values("month")
        .annotate(total=_signed_total(), count=Count("id"))
    }
    first = date(today.year, today.month, 1)
    months = []
    for back in range(11, -1, -1):
        year, month = divmod(first.year * 12 + first.month - 1 - back, 12)
        start = date(year, month + 1, 1)
        row = next(
            (value for key, value in by_month.items() if key and (key.year, key.month) == (start.year, start.month)),
            None,
        )
        months.append(
            {"month": start, "total": row["total"] if row else Decimal("0"), "count": row["count"] if row else 0}
        )
    years = [
        {"year": row["year"].year, "total": row["total"], "count": row["count"]}
        for row in billed.annotate(year=TruncYear("day"))
        .values("year")
        .annotate(total=_signed_total(), count=Count("id"))
        .order_by("-year")
        if row["year"]
    ]
    return SupplierStatistics(
        document_count=summary["count"],
        average_confidence=summary["confidence"],
        review_rate=summary["reviewed"] / summary["decided"] if summary["decided"] else None,
        months=months,
        years=years,
    )


def supplier_chart(months: list[dict], *, width: int = 480, height: int = 120) -> dict:
    """Bars for a server-rendered SVG: one per month, scaled to the largest absolute total."""
    largest = max((abs(month["total"]) for month in months), default=Decimal("0")) or Decimal("1")
    slot = width / max(len(months), 1)
    bars = []
    for index, month in enumerate(months):
        bar_height = float(abs(month["total"]) / largest) * (height - 20)
        bars.append(
            {
                "x": round(index * slot + slot * 0.15, 1),
                "width": round(slot * 0.7, 1),
                "y": round(height - 16 - bar_height, 1),
                "height": round(bar_height, 1),
                "negative": month["total"] < 0,
                "label_x": round(index * slot + slot / 2, 1),
                **month,
            }
        )
    return {"width": width, "height": height, "bars": bars, "baseline": height - 16}


@dataclass(frozen=True)
class DuplicateCandidate:
    """Two suppliers that are probably one company, and why we think so."""

    first: Supplier
    second: Supplier
    reasons: tuple[str, ...]


def supplier_duplicates(*, supplier: Supplier | None = None, limit: int = 200) -> list[DuplicateCandidate]:
    """Pairs of live suppliers with the same USt-IdNr., a shared IBAN or very similar names.

    With ``supplier``, only pairs that include it. Names are compared with the same key and
    score as matching, so what matching cannot tell apart shows up here.
    """
    from suppliers.matching import NAME_THRESHOLD, name_key, name_score

    live = Supplier.objects.all()
    reasons: dict[tuple, list[str]] = {}

    def note(a_id, b_id, reason):
        if a_id == b_id:
            return
        key = tuple(sorted((str(a_id), str(b_id))))
        if reason not in reasons.setdefault(key, []):
            reasons[key].append(reason)

    by_vat: dict[str, list] = {}
    for supplier_id, vat_id in live.exclude(vat_id="").values_list("id", "vat_id"):
        by_vat.setdefault(vat_id, []).append(supplier_id)
    by_iban: dict[str, set] = {}
    for supplier_id, iban in live.exclude(iban="").values_list("id", "iban"):
        by_iban.setdefault(normalize_iban(iban), set()).add(supplier_id)
    for supplier_id, iban in SupplierBankAccount.objects.filter(supplier__in=live).values_list("supplier_id", "iban"):
        by_iban.setdefault(iban, set()).add(supplier_id)
    for label, groups in ((gettext("gleiche USt-IdNr. %s"), by_vat), (gettext("gleiche IBAN %s"), by_iban)):
        for value, ids in groups.items():
            ids = sorted(ids, key=str)
            for i, a_id in enumerate(ids):
                for b_id in ids[i + 1 :]:
                    note(a_id, b_id, label % value)

    rows = list(live.values_list("id", "name", "legal_name", "name_variations"))
    keys, owners = [], []
    for supplier_id, name, legal_name, variations in rows:
        for known in supplier_names(Supplier(name=name, legal_name=legal_name, name_variations=variations)):
            key = name_key(known)
            if len(key.core) >= 3:
                keys.append(key.core)
                owners.append((supplier_id, known, key))
    queries = list(range(len(keys))) if supplier is None else [i for i, o in enumerate(owners) if o[0] == supplier.pk]
    for i, j in _similar_name_pairs(keys, queries):
        (a_id, a_name, a_key), (b_id, b_name, b_key) = owners[i], owners[j]
        if a_id != b_id and name_score(a_key, b_key) >= NAME_THRESHOLD:
            note(a_id, b_id, gettext("ähnlicher Name (%(a)s / %(b)s)") % {"a": a_name, "b": b_name})

    if supplier is not None:
        reasons = {key: value for key, value in reasons.items() if str(supplier.pk) in key}
    pairs = list(reasons.items())[:limit]
    suppliers = Supplier.objects.in_bulk([supplier_id for key, _r in pairs for supplier_id in key])
    by_str = {str(key): value for key, value in suppliers.items()}
    return [
        DuplicateCandidate(by_str[a], by_str[b], tuple(found))
        for (a, b), found in sorted(pairs, key=lambda item: (by_str[item[0][0]].name, by_str[item[0][1]].name))
    ]


# Rows of the similarity matrix computed at once: 1000 x 20,000 names is 20 MB.
_SIMILARITY_CHUNK = 1000


def _similar_name_pairs(keys: list[str], queries: list[int]):
    """(i, j) index pairs of name cores close enough to be worth ``name_score``.

    A coarse filter in C over all pairs: plain ``ratio`` on the cores and on their sorted
    words (which is ``token_sort_ratio``), both parallel and without Python per pair; WRatio
    per query was a hundred times slower on a few thousand suppliers.
    """
    import numpy as np
    from rapidfuzz import fuzz, process

    from suppliers.matching import NAME_THRESHOLD

    if not keys or not queries:
        return
    sorted_keys = [" ".join(sorted(key.split())) for key in keys]
    for start in range(0, len(queries), _SIMILARITY_CHUNK):
        rows = queries[start : start + _SIMILARITY_CHUNK]
        found = set()
        for choices in (keys, sorted_keys):
            matrix = process.cdist(
                [choices[i] for i in rows],
                choices,
                scorer=fuzz.ratio,
                processor=None,
                score_cutoff=NAME_THRESHOLD - 10,
                dtype=np.uint8,
                workers=-1,
            )
            for row, column in zip(*np.nonzero(matrix), strict=True):
                i, j = rows[row], int(column)
                if i != j:
                    found.add((i, j))
        yield from sorted(found)
