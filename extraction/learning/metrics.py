"""Accuracy, precision, recall and F1 per field from reviewed values (extracted vs. accepted).

Per field: a value extracted and accepted as is counts as a true positive; a value extracted but
corrected (or removed) as a false positive; an accepted value extraction did not get right (missed
or wrong) as a false negative, so a wrong value counts against precision and recall alike.
Accuracy is the share of reviewed fields that needed no correction.
"""

from dataclasses import dataclass, field


@dataclass
class Metrics:
    total: int = 0
    correct: int = 0
    accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    avg_confidence: float | None = None
    per_field: dict[str, dict] = field(default_factory=dict)


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None or precision + recall == 0:
        return None if precision is None or recall is None else 0.0
    return round(2 * precision * recall / (precision + recall), 4)


def field_metrics(items: list[tuple[str, str, str, float | None]]) -> Metrics:
    """``items``: (field, accepted value, extracted value, extraction confidence or None)."""
    counts: dict[str, dict] = {}
    for name, expected, extracted, confidence in items:
        row = counts.setdefault(name, {"tp": 0, "fp": 0, "fn": 0, "total": 0, "correct": 0, "confidences": []})
        row["total"] += 1
        right = expected == extracted
        row["correct"] += right
        if extracted and right:
            row["tp"] += 1
        elif extracted:
            row["fp"] += 1
        if expected and not right:
            row["fn"] += 1
        if confidence is not None:
            row["confidences"].append(confidence)
    result = Metrics()
    tp = fp = fn = 0
    confidences: list[float] = []
    for name, row in sorted(counts.items()):
        precision, recall = _ratio(row["tp"], row["tp"] + row["fp"]), _ratio(row["tp"], row["tp"] + row["fn"])
        result.per_field[name] = {
            "total": row["total"],
            "accuracy": _ratio(row["correct"], row["total"]),
            "precision": precision,
            "recall": recall,
            "f1": _f1(precision, recall),
            "avg_confidence": _ratio_float(row["confidences"]),
        }
        result.total += row["total"]
        result.correct += row["correct"]
        tp, fp, fn = tp + row["tp"], fp + row["fp"], fn + row["fn"]
        confidences += row["confidences"]
    result.accuracy = _ratio(result.correct, result.total)
    result.precision, result.recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    result.f1 = _f1(result.precision, result.recall)
    result.avg_confidence = _ratio_float(confidences)
    return result


def _ratio_float(values: list[float]) -> float | None:
    return round(max(0.0, min(1.0, sum(values) / len(values))), 4) if values else None
