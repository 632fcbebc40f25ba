import json
import math
from pathlib import Path

import pytest

from workflows.jsonlogic import JsonLogicError, evaluate, rule_errors

SUITE = Path(__file__).resolve().parent / "data" / "jsonlogic-tests.json"


def _cases():
    if not SUITE.exists():
        return []
    cases, heading = [], "start"
    for entry in json.loads(SUITE.read_text(encoding="utf-8")):
        if isinstance(entry, str):
            heading = entry
            continue
        rule, data, expected = entry
        cases.append(pytest.param(rule, data, expected, id=f"{heading}: {json.dumps(rule)[:60]}"))
    return cases


def _same(actual, expected) -> bool:
    """JSON equality that keeps true apart from 1 (Python's True == 1 would hide a bug)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(_same, actual, expected))
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(_same(actual[k], expected[k]) for k in expected)
        )
    return actual == expected


def test_it_finds_the_official_suite():
    assert len(_cases()) > 250, f"JsonLogic suite missing or truncated at {SUITE}"


@pytest.mark.embedded
@pytest.mark.parametrize(("rule", "data", "expected"), _cases())
def test_it_passes_the_official_jsonlogic_suite(rule, data, expected):
    assert _same(evaluate(rule, data), expected)


def test_it_applies_javascript_coercions():
    assert evaluate({"==": [1, "1"]}) is True
    assert evaluate({"===": [1, "1"]}) is False
    assert evaluate({"==": [0, False]}) is True
    assert evaluate({"==": [None, 0]}) is False
    assert evaluate({"+": ["3 dogs", 1]}) == 4
    assert evaluate({"<": ["10", "9"]}) is True  # two strings compare as text
    assert evaluate({"<": ["10", 9]}) is False
    assert math.isinf(evaluate({"/": [1, 0]}))
    assert evaluate({"cat": [0.5, None, True]}) == "0.5nulltrue"


def test_it_reads_invoice_data_for_a_workflow_condition():
    rule = {"and": [{">": [{"var": "document.total_amount"}, 5000]}, {"==": [{"var": "document.type"}, "invoice"]}]}
    assert evaluate(rule, {"document": {"total_amount": 7300.5, "type": "invoice"}}) is True
    assert evaluate(rule, {"document": {"total_amount": 120, "type": "invoice"}}) is False


def test_it_refuses_unknown_operators():
    with pytest.raises(JsonLogicError, match="Unbekannter JSONLogic-Operator"):
        evaluate({"exec": ["rm -rf /"]})
    assert rule_errors({"and": [{"==": [1, 1]}, {"shell": []}]}) == ["Unbekannter JSONLogic-Operator: 'shell'."]
    assert rule_errors({"and": [{"==": [1, 1]}]}) == []


def test_it_bounds_nesting():
    rule: dict = {"!": True}
    for _ in range(100):
        rule = {"!": [rule]}
    with pytest.raises(JsonLogicError, match="zu tief"):
        evaluate(rule)
