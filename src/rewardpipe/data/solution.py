"""GSM8K solution format: step lines with `<<expr=value>>` calculator annotations, then `#### N`."""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass

ANNOTATION = re.compile(r"<<([^<>=]*)=([^<>]*)>>")
FINAL = re.compile(r"^####\s*(.+?)\s*$")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")

_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


@dataclass(frozen=True)
class Annotation:
    """One `<<expr=value>>` span: `line` index in the solution, `start`/`end` offsets in that line."""

    line: int
    start: int
    end: int
    expr: str
    value: str


def split_final(text: str) -> tuple[list[str], str | None]:
    """Return (step lines, final answer after `####`), or (lines, None) without a final line."""
    lines = text.rstrip().split("\n")
    match = FINAL.match(lines[-1].strip()) if lines else None
    if match is None:
        return lines, None
    return lines[:-1], match.group(1)


def final_answer(text: str) -> str | None:
    """The string after the last line's `####`, or None."""
    return split_final(text)[1]


def annotations(text: str) -> list[Annotation]:
    """Every calculator annotation in reading order."""
    found = []
    for i, line in enumerate(text.split("\n")):
        for m in ANNOTATION.finditer(line):
            found.append(Annotation(i, m.start(), m.end(), m.group(1), m.group(2)))
    return found


MAX_EXPR_CHARS = 1000  # a calculator annotation, not a program
MAX_NODES = 400
MAX_BITS = 4096  # largest integer operand or result; a float overflows long before this


def safe_eval(expr: str) -> float | None:
    """Evaluate an arithmetic expression (numbers, + - * / // % **, parentheses) or return None.
    The work is bounded: long expressions, huge integers and exponents are refused up front."""
    cleaned = expr.replace(",", "").replace("x", "*").replace("×", "*").replace("÷", "/").strip()
    if len(cleaned) > MAX_EXPR_CHARS:
        return None
    try:
        tree = ast.parse(cleaned, mode="eval")
        if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
            return None
        return float(_eval(tree.body))
    except (SyntaxError, ValueError, TypeError, ZeroDivisionError, OverflowError, RecursionError):
        return None


def _bits(value: float) -> float:
    """An upper bound on log2 |value| (0 for |value| <= 1)."""
    return math.log2(abs(value)) if abs(value) > 1 else 0.0


def _check_size(value: float) -> float:
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise ValueError("integer too large")
    return value


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return _check_size(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            if abs(right) > 64:
                raise ValueError("exponent too large")
            if right > 0 and right * _bits(left) > MAX_BITS:  # estimate before computing
                raise ValueError("power too large")
        if isinstance(node.op, ast.Mult) and _bits(left) + _bits(right) > MAX_BITS + 2:
            raise ValueError("product too large")
        return _check_size(_OPS[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _eval(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    raise ValueError(f"unsupported expression node {type(node).__name__}")


def parse_number(text: str) -> float | None:
    """A plain number such as `1,200`, `-3.5` or `$18`; None when it is not one."""
    cleaned = text.replace(",", "").replace("$", "").strip().rstrip(".")
    try:
        return float(cleaned)
    except ValueError:
        return None


def format_number(value: float) -> str:
    """Render like GSM8K does: integers without a decimal point, otherwise up to 6 decimals."""
    if abs(value - round(value)) < 1e-9:
        return str(round(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def values_match(computed: float, written: float) -> bool:
    """GSM8K writers round; accept a match at 2 decimals or to a relative 1e-6."""
    return abs(computed - written) <= 1e-6 * max(1.0, abs(written)) or round(computed, 2) == round(
        written, 2
    )


def inconsistent_annotations(text: str) -> int:
    """Count annotations whose expression does not evaluate to the written value."""
    bad = 0
    for ann in annotations(text):
        computed, written = safe_eval(ann.expr), parse_number(ann.value)
        if computed is None or written is None or not values_match(computed, written):
            bad += 1
    return bad
