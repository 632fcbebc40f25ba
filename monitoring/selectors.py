"""Reads for the operations dashboard and the drift check, from what the pipeline recorded."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` 0..1) of ``values``; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _days(count: int) -> list[date]:
    today = timezone.localdate()
    return [today - timedelta(days=offset) for offset in range(count - 1, -1, -1)]


def documents_per_day(documents, days: int = 30) -> dict:
    """{"days": [...], "series": {status: [count per day]}} by the day the document arrived."""
    axis = _days(days)
    start = timezone.make_aware(datetime.combine(axis[0], datetime.min.time()))
    counts = (
        documents.filter(created_at__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day", "status")
        .annotate(n=Count("id"))
    )
    series: dict[str, list[int]] = defaultdict(lambda: [0] * len(axis))
    index = {day: position for position, day in enumerate(axis)}
    for row in counts:
        if row["day"] in index:
            series[row["status"]][index[row["day"]]] = row["n"]
    return {"days": axis, "series": dict(series)}


def processing_time_percentiles(documents, days: int = 14) -> dict:
    """Per day: p50 and p95 of the whole pipeline run (sum of stage timings), in seconds."""
    from documents.models import ProcessingJob

    axis = _days(days)
    start = timezone.make_aware(datetime.combine(axis[0], datetime.min.time()))
    per_day: dict[date, list[float]] = defaultdict(list)
    for finished, timings in ProcessingJob.objects.filter(
        document__in=documents, status=ProcessingJob.Status.COMPLETED, finished_at__gte=start
    ).values_list("finished_at", "timings_ms"):
        total = sum(value for value in (timings or {}).values() if isinstance(value, int | float))
        per_day[timezone.localdate(finished)].append(total / 1000)
    return {
        "days": axis,
        "p50": [percentile(per_day[day], 0.5) for day in axis],
        "p95": [percentile(per_day[day], 0.95) for day in axis],
    }


def confidence_distribution(documents, buckets: int = 10) -> list[int]:
    counts = [0] * buckets
    for confidence in documents.filter(overall_confidence__isnull=False).values_list("overall_confidence", flat=True):
        counts[min(buckets - 1, int(confidence * buckets))] += 1
    return counts


def review_and_straight_through(documents, days: int = 30) -> dict:
    """Per day of processing: share sent to review, share approved without a person."""
    axis = _days(days)
    start = timezone.make_aware(datetime.combine(axis[0], datetime.min.time()))
    rows = (
        documents.filter(processed_at__gte=start)
        .exclude(decision="")
        .annotate(day=TruncDate("processed_at"))
        .values("day")
        .annotate(total=Count("id"), auto=Count("id", filter=Q(decision="auto_approve")))
    )
    by_day = {row["day"]: row for row in rows}
    review, straight = [], []
    for day in axis:
        row = by_day.get(day)
        if not row or not row["total"]:
            review.append(None)
            straight.append(None)
        else:
            straight.append(row["auto"] / row["total"])
            review.append(1 - row["auto"] / row["total"])
    return {"days": axis, "review_rate": review, "straight_through": straight}


def field_accuracy(documents, *, since, until) -> dict[str, tuple[int, int]]:
    """Per field, among documents a person reviewed in [since, until): (right, total).

    A field was right when the clerk left the extracted value as it was.
    """
    from documents.models import ExtractedField

    rows = ExtractedField.objects.filter(
        document__in=documents, document__reviewed_at__gte=since, document__reviewed_at__lt=until
    ).values_list("name", "source", "value", "extracted_value")
    result: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name, source, value, extracted in rows:
        if source == "manual" and not extracted:
            continue  # a field the machine never found: a recall question, not accuracy
        result[name][1] += 1
        if source != "manual" or value == extracted:
            result[name][0] += 1
    return {name: (right, total) for name, (right, total) in sorted(result.items())}


def accuracy_drift(documents, *, now=None, drop_points: float = 5.0, minimum: int = 5) -> list[dict]:
    """Fields whose accuracy this week is more than ``drop_points`` below last week's."""
    now = now or timezone.now()
    this_week = field_accuracy(documents, since=now - timedelta(days=7), until=now)
    last_week = field_accuracy(documents, since=now - timedelta(days=14), until=now - timedelta(days=7))
    rows = []
    for name in sorted(set(this_week) | set(last_week)):
        right, total = this_week.get(name, (0, 0))
        before_right, before_total = last_week.get(name, (0, 0))
        current = 100 * right / total if total else None
        previous = 100 * before_right / before_total if before_total else None
        drifted = (
            current is not None
            and previous is not None
            and total >= minimum
            and before_total >= minimum
            and previous - current > drop_points
        )
        rows.append({"field": name, "current": current, "previous": previous, "count": total, "drifted": drifted})
    return rows


def top_suppliers(documents, limit: int = 10) -> list[dict]:
    return list(
        documents.exclude(supplier=None)
        .values("supplier__name")
        .annotate(n=Count("id"))
        .order_by("-n", "supplier__name")[:limit]
    )


SUPPLIER_VERSION_PREFIX = "lieferant:"


def extraction_accuracy(days: int = 30, *, lines: int = 4, suppliers: int = 20) -> dict:
    """Extraction accuracy per day and per supplier, from the daily ``ModelPerformance`` rows.

    The rows (model ``extraction``; version ``gesamt`` for all documents, ``lieferant:<id>`` per
    supplier) are written by ``extraction.tasks.model_performance_compute`` from the fields clerks
    reviewed that day; a day without reviewed fields has no point (None), not a zero. They cover
    all documents, not only the viewer's: the figures are counts and rates, no document content.

    ``series``: the overall line, one for each of the ``lines`` suppliers with the most reviewed
    fields in the window, and ``document_type`` (the confirmed document types; model
    ``document_type_keywords``) when there are figures for it. ``suppliers``: per supplier (most
    reviewed fields first, at most ``suppliers``) the accuracy over the window, over its last 7
    days and before, weighted by fields (sum of right / sum of reviewed), and the supplier's
    active learned rules.
    """
    from extraction.models import ExtractionRule, ModelPerformance
    from suppliers.models import Supplier

    axis = _days(days)
    index = {day: position for position, day in enumerate(axis)}
    recent_from = axis[-1] - timedelta(days=6)
    overall: list[float | None] = [None] * len(axis)
    document_type: list[float | None] = [None] * len(axis)
    per_supplier: dict[str, dict] = {}
    rows = ModelPerformance.objects.filter(
        model_name__in=("extraction", "document_type_keywords"),
        hour_of_day=None,
        metric_date__gte=axis[0],
        metric_date__lte=axis[-1],
    ).values_list("model_name", "model_version", "metric_date", "accuracy", "correct_predictions", "total_predictions")
    for model, version, day, accuracy, correct, total in rows:
        if version == "gesamt":
            (overall if model == "extraction" else document_type)[index[day]] = accuracy
            continue
        if model != "extraction":
            continue
        if not version.startswith(SUPPLIER_VERSION_PREFIX):
            continue
        entry = per_supplier.setdefault(
            version.removeprefix(SUPPLIER_VERSION_PREFIX),
            {"points": [None] * len(axis), "correct": 0, "total": 0, "recent": [0, 0], "before": [0, 0]},
        )
        entry["points"][index[day]] = accuracy
        entry["correct"] += correct
        entry["total"] += total
        bucket = entry["recent"] if day >= recent_from else entry["before"]
        bucket[0] += correct
        bucket[1] += total
    names = dict(Supplier.objects.filter(id__in=_uuids(per_supplier)).values_list("id", "name"))
    names = {str(key): value for key, value in names.items()}
    learned = dict(
        ExtractionRule.objects.filter(supplier_id__in=list(names), is_active=True, learned_from__gt=0)
        .values("supplier_id")
        .annotate(n=Count("id"))
        .values_list("supplier_id", "n")
    )
    ranked = sorted(
        (key for key in per_supplier if key in names),  # a deleted supplier's rows stay unnamed: left out
        key=lambda key: (-per_supplier[key]["total"], names[key].casefold()),
    )
    table = []
    for key in ranked[:suppliers]:
        entry = per_supplier[key]
        table.append(
            {
                "supplier_id": key,
                "name": names[key],
                "accuracy": _share(entry["correct"], entry["total"]),
                "recent": _share(*entry["recent"]),
                "before": _share(*entry["before"]),
                "total": entry["total"],
                "learned_rules": learned.get(uuid.UUID(key), 0),
            }
        )
    series = {"overall": overall}
    series.update({key: per_supplier[key]["points"] for key in ranked[:lines]})
    if any(value is not None for value in document_type):
        series["document_type"] = document_type
    return {"days": axis, "series": series, "names": names, "suppliers": table}


def _share(correct: int, total: int) -> float | None:
    return correct / total if total else None


def _uuids(keys) -> list[uuid.UUID]:
    valid = []
    for key in keys:
        try:
            valid.append(uuid.UUID(key))
        except ValueError:
            continue  # a hand-made row with another version name names no supplier
    return valid
