"""JsonLogic (https://jsonlogic.com) with JavaScript's semantics, for workflow conditions.

Admins write conditions like ``{">": [{"var": "total_amount"}, 5000]}``. The reference
implementation is JavaScript, so equality, truthiness, comparison and arithmetic follow
JavaScript's coercion rules here (``"1" == 1``, ``[] `` is falsy, ``"3 dogs" + 1`` is 4);
the official test suite (``../shared/data/jsonlogic/tests.json``) runs in
``workflows/tests/test_jsonlogic.py``.

Evaluation is bounded: rules are data from admins, so an unknown operator is an error (not
silently false), and nesting depth and iteration counts are capped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 64
MAX_ITEMS = 10_000


class JsonLogicError(ValueError):
    """A rule that cannot be evaluated: unknown operator, too deep, wrong shape."""


# --- JavaScript coercions ------------------------------------------------------------------

_JS_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|Infinity)$")
_JS_PARSE_FLOAT = re.compile(r"^[+-]?(Infinity|\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)")


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def to_number(value) -> float:
    """ECMAScript ToNumber for JSON values."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if _is_number(value):
        return float(value)
    if value is None:
        return 0.0
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
            return float(int(text, 16))
        if _JS_NUMBER.match(text):
            return float(text)
        return math.nan
    if isinstance(value, list):
        return to_number(to_string(value))
    return math.nan


def parse_float(value) -> float:
    """JavaScript's ``parseFloat``: the longest numeric prefix of the string form."""
    if _is_number(value):
        return float(value)
    match = _JS_PARSE_FLOAT.match(to_string(value).lstrip())
    return float(match.group(0)) if match else math.nan


def _number_string(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if float(number).is_integer() and abs(number) < 1e21:
        return str(int(number))
    return repr(float(number))


def to_string(value) -> str:
    """ECMAScript ToString for JSON values (arrays join with commas, objects are opaque)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return _number_string(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join("" if item is None else to_string(item) for item in value)
    return "[object Object]"


def truthy(value) -> bool:
    """JsonLogic truthiness: JavaScript's, except that an empty array is false."""
    if isinstance(value, list):
        return len(value) > 0
    if isinstance(value, dict):
        return True
    if _is_number(value):
        return value != 0 and not math.isnan(value)
    return bool(value)


def _primitive(value):
    return to_string(value) if isinstance(value, list | dict) else value


def loose_equals(a, b) -> bool:
    """ECMAScript Abstract Equality (``==``) for JSON values."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list | dict) and isinstance(b, list | dict):
        return a is b
    if isinstance(a, bool):
        return loose_equals(to_number(a), b)
    if isinstance(b, bool):
        return loose_equals(a, to_number(b))
    if isinstance(a, list | dict):
        return loose_equals(_primitive(a), b)
    if isinstance(b, list | dict):
        return loose_equals(a, _primitive(b))
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return to_number(a) == to_number(b)


def strict_equals(a, b) -> bool:
    if _is_number(a) and _is_number(b):
        return float(a) == float(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list | dict):
        return a is b
    return a == b


def _less(a, b, *, or_equal: bool) -> bool:
    a, b = _primitive(a), _primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        return a <= b if or_equal else a < b
    x, y = to_number(a), to_number(b)
    if math.isnan(x) or math.isnan(y):
        return False
    return x <= y if or_equal else x < y


def _js_number(number: float):
    """Hand numbers back as int when integral, so results compare and serialise cleanly."""
    if math.isfinite(number) and float(number).is_integer():
        return int(number)
    return number


# --- the operators -------------------------------------------------------------------------


def _var(data, path=None, default=None, *_):
    if path is None or path == "" or path == []:
        return data
    current = data
    for part in to_string(path).split("."):
        if isinstance(current, dict):
            if part not in current:
                return default
            current = current[part]
        elif isinstance(current, list):
            try:
                index = int(part)
            except ValueError:
                return default
            if not 0 <= index < len(current):
                return default
            current = current[index]
        else:
            return default
        if current is None:
            return default
    return current


def _missing(data, *keys):
    names = keys[0] if keys and isinstance(keys[0], list) else keys
    return [name for name in names if _var(data, name) in (None, "")]


def _missing_some(data, need, names):
    missing = _missing(data, *names)
    return [] if len(names) - len(missing) >= to_number(need) else missing


def _substr(source, start, length=None):
    text = to_string(source)
    start = int(to_number(start))
    begin = max(len(text) + start, 0) if start < 0 else min(start, len(text))
    if length is None:
        return text[begin:]
    length = int(to_number(length))
    end = len(text) + length if length < 0 else begin + length
    return text[begin : max(end, begin)]


def _in(needle, haystack):
    if isinstance(haystack, str):
        return to_string(needle) in haystack
    if isinstance(haystack, list):
        return any(strict_equals(needle, item) for item in haystack)
    return False


def _merge(*args):
    merged = []
    for arg in args:
        merged.extend(arg if isinstance(arg, list) else [arg])
    return merged


def _minus(a, b=None):
    if b is None:
        return _js_number(-to_number(a))
    return _js_number(to_number(a) - to_number(b))


def _divide(a, b):
    x, y = to_number(a), to_number(b)
    if y == 0:
        if x == 0 or math.isnan(x):
            return math.nan
        return math.copysign(math.inf, x) * math.copysign(1, y)
    return _js_number(x / y)


def _modulo(a, b):
    x, y = to_number(a), to_number(b)
    if y == 0 or math.isinf(x) or math.isnan(x) or math.isnan(y):
        return math.nan
    return _js_number(math.fmod(x, y))


def _compare(or_equal: bool) -> Callable:
    def compare(a, b, c=None, *_):
        if c is None:
            return _less(a, b, or_equal=or_equal)
        return _less(a, b, or_equal=or_equal) and _less(b, c, or_equal=or_equal)

    return compare


def _greater(or_equal: bool) -> Callable:
    return lambda a, b, *_: _less(b, a, or_equal=or_equal)


def _extreme(pick: Callable) -> Callable:
    def extreme(*args):
        if not args:
            return None
        numbers = [to_number(arg) for arg in args]
        if any(math.isnan(n) for n in numbers):
            return math.nan
        return _js_number(pick(numbers))

    return extreme


_PLAIN_OPERATORS: dict[str, Callable] = {
    "==": lambda a=None, b=None, *_: loose_equals(a, b),
    "===": lambda a=None, b=None, *_: strict_equals(a, b),
    "!=": lambda a=None, b=None, *_: not loose_equals(a, b),
    "!==": lambda a=None, b=None, *_: not strict_equals(a, b),
    ">": _greater(False),
    ">=": _greater(True),
    "<": _compare(False),
    "<=": _compare(True),
    "!": lambda a=None, *_: not truthy(a),
    "!!": lambda a=None, *_: truthy(a),
    "%": _modulo,
    "+": lambda *args: _js_number(sum((parse_float(arg) for arg in args), 0.0)),
    "*": lambda *args: _js_number(math.prod(parse_float(arg) for arg in args)),
    "-": _minus,
    "/": _divide,
    "min": _extreme(min),
    "max": _extreme(max),
    "cat": lambda *args: "".join(to_string(arg) for arg in args),
    "substr": _substr,
    "in": lambda a=None, b=None, *_: _in(a, b),
    "merge": _merge,
}

_DATA_OPERATORS: dict[str, Callable] = {
    "var": _var,
    "missing": _missing,
    "missing_some": _missing_some,
}

OPERATORS = (
    frozenset(_PLAIN_OPERATORS)
    | frozenset(_DATA_OPERATORS)
    | {
        "if",
        "?:",
        "and",
        "or",
        "map",
        "filter",
        "reduce",
        "all",
        "none",
        "some",
    }
)


def is_rule(value) -> bool:
    return isinstance(value, dict) and len(value) == 1


def _items(value) -> list:
    if not isinstance(value, list):
        return []
    if len(value) > MAX_ITEMS:
        raise JsonLogicError(f"Zu viele Elemente ({len(value)}, höchstens {MAX_ITEMS}).")
    return value


def evaluate(rule: Any, data: Any = None, *, _depth: int = 0) -> Any:
    """Apply ``rule`` to ``data``. Non-rules (literals, arrays of literals) pass through."""
    if _depth > MAX_DEPTH:
        raise JsonLogicError(f"Regel zu tief verschachtelt (mehr als {MAX_DEPTH} Ebenen).")
    if isinstance(rule, list):
        return [evaluate(item, data, _depth=_depth + 1) for item in rule]
    if not is_rule(rule):
        return rule

    ((operator, raw_args),) = rule.items()
    args = raw_args if isinstance(raw_args, list) else [raw_args]
    depth = _depth + 1

    def value(index: int, default=None, scope=data):
        return evaluate(args[index], scope, _depth=depth) if index < len(args) else default

    # Operators that decide what to evaluate (short-circuit, scoped iteration).
    if operator in ("if", "?:"):
        index = 0
        while index < len(args) - 1:
            if truthy(value(index)):
                return value(index + 1)
            index += 2
        return value(index) if index == len(args) - 1 else None
    if operator == "and":
        result = None
        for index in range(len(args)):
            result = value(index)
            if not truthy(result):
                return result
        return result
    if operator == "or":
        result = None
        for index in range(len(args)):
            result = value(index)
            if truthy(result):
                return result
        return result
    if operator in ("map", "filter", "all", "none", "some"):
        items = _items(value(0))
        body = args[1] if len(args) > 1 else None
        if operator == "map":
            return [evaluate(body, item, _depth=depth) for item in items]
        if operator == "filter":
            return [item for item in items if truthy(evaluate(body, item, _depth=depth))]
        if operator == "all":
            return bool(items) and all(truthy(evaluate(body, item, _depth=depth)) for item in items)
        if operator == "none":
            return not any(truthy(evaluate(body, item, _depth=depth)) for item in items)
        return any(truthy(evaluate(body, item, _depth=depth)) for item in items)
    if operator == "reduce":
        items = _items(value(0))
        body = args[1] if len(args) > 1 else None
        accumulator = value(2)
        for item in items:
            accumulator = evaluate(body, {"current": item, "accumulator": accumulator}, _depth=depth)
        return accumulator

    values = [evaluate(arg, data, _depth=depth) for arg in args]
    if operator in _DATA_OPERATORS:
        return _DATA_OPERATORS[operator](data, *values)
    if operator in _PLAIN_OPERATORS:
        return _PLAIN_OPERATORS[operator](*values)
    raise JsonLogicError(f"Unbekannter JSONLogic-Operator: {operator!r}.")


def rule_errors(rule: Any, *, _depth: int = 0) -> list[str]:
    """Every problem of a rule found without evaluating it (unknown operators, depth)."""
    if _depth > MAX_DEPTH:
        return [f"Regel zu tief verschachtelt (mehr als {MAX_DEPTH} Ebenen)."]
    if isinstance(rule, list):
        return [error for item in rule for error in rule_errors(item, _depth=_depth + 1)]
    if not isinstance(rule, dict):
        return []
    if len(rule) != 1:
        return ['Erwartet wird ein Objekt mit genau einem Operator, z. B. {"==": [...]}.']
    ((operator, args),) = rule.items()
    errors = [] if operator in OPERATORS else [f"Unbekannter JSONLogic-Operator: {operator!r}."]
    return errors + rule_errors(args, _depth=_depth + 1)
