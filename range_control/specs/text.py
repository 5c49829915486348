"""What text the range accepts anywhere (bodies, queries, paths, forms, files), and whole numbers
given as text. One rule for every field, so that no character a database refuses (PostgreSQL
refuses NUL; an unpaired surrogate cannot be stored as UTF-8 at all) gets past the edge. And the
one way text leaves as CSV (``csv_writer``)."""

from __future__ import annotations

import csv
import re
import unicodedata
from typing import IO, Annotated, Any

from pydantic import StringConstraints

MAX_DEPTH = 32  # nesting of a JSON body or a YAML document

# A language in a ``translations:`` block: an ISO 639 code in lower case (``fr``, ``de``).
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored, or None."""
    if "\x00" in value:
        return "contains a NUL character"
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return "contains an unpaired surrogate (not valid Unicode)"
    return None


def name_problem(value: str) -> str | None:
    """Why ``value`` cannot be a name shown to others (a team's): beyond ``text_problem``,
    control and format characters (bidi overrides, zero-width characters) that make a name
    look like another or reorder the text around it."""
    bad = text_problem(value)
    if bad is not None:
        return bad
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp"):
            return f"contains the control or format character U+{ord(ch):04X}"
    return None


def first_problem(data: Any, where: str = "body") -> tuple[str, str] | None:
    """The first place in nested lists and dicts (keys included) that no text field may hold,
    with why; too deep a nesting is one too. Iterative: any depth is safe to look at."""
    stack: list[tuple[str, Any, int]] = [(where, data, 0)]
    while stack:
        place, item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return place, f"nested more than {MAX_DEPTH} levels deep"
        if isinstance(item, str):
            bad = text_problem(item)
            if bad is not None:
                return place, bad
        elif isinstance(item, dict):
            for k, v in item.items():
                if isinstance(k, str) and (bad := text_problem(k)) is not None:
                    return place, f"a key {bad}"
                stack.append((f"{place}.{k}", v, depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((f"{place}.{i}", v, depth + 1) for i, v in enumerate(item))
    return None


def whole_number(value: str, field: str, low: int, high: int) -> int:
    """``value`` as an int within [low, high], ASCII digits only (``"²"`` and ``"٣"`` are
    digits to Python, not to people); ValueError naming ``field`` otherwise."""
    text = value.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        raise ValueError(f"{field}: a whole number from {low} to {high}")
    number = int(text)
    if not low <= number <= high:
        raise ValueError(f"{field}: a whole number from {low} to {high}")
    return number


_FORMULA = ("=", "+", "-", "@", "\t", "\r")
# Inside a cell, where a spreadsheet using another separator (; tab |) or reading the cell's
# line breaks as rows would start a new cell: a formula character there, after any spaces or
# quotes, is neutralised too.
_INNER_FORMULA = re.compile(r"([;\t|\r\n][\s\"]*)([=+\-@])")


def csv_cell(value: object) -> object:
    """A value for a CSV cell that a spreadsheet will show as text, never run as a formula
    (OWASP's advice: a cell starting with = + - @ tab or CR gets a leading apostrophe; so does
    a formula character after a separator inside the cell)."""
    if not isinstance(value, str):
        return value
    value = _INNER_FORMULA.sub(r"\1'\2", value)
    return "'" + value if value.startswith(_FORMULA) else value


class CsvWriter:
    """Every CSV the range writes (the report's tables, the attempts record, the team tokens
    sheet) goes through this writer: every text cell is quoted, so that a spreadsheet reading
    the file with another list separator (``;`` in a French Excel) cannot split a cell into a
    formula, and a cell starting like a formula is neutralised (``csv_cell``). Numbers stay
    numbers."""

    def __init__(self, fh: IO[str]) -> None:
        self._writer = csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC)

    def writerow(self, row: list[Any] | tuple[Any, ...]) -> None:
        self._writer.writerow([csv_cell(v) for v in row])
