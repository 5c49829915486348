"""Reading the YAML files organisers and authors write (``challenge.yml``, ``scenario.yml``) and
describing pydantic's refusals of them: one reader and one wording for every file and body."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, ValidationError

from range_control.core.errors import InvalidInput

_M = TypeVar("_M", bound=BaseModel)

_PLACEHOLDER = re.compile(rb"\{\{\s*[\w.]+\s*\}\}")


class FileProblem(Exception):
    """A file that cannot be used: ``where`` is a position in it ("line 3, column 5") or ""."""

    def __init__(self, path: Path, where: str, message: str) -> None:
        super().__init__(f"{path}: {where}: {message}" if where else f"{path}: {message}")
        self.path, self.where, self.message = path, where, message


def read_yaml(path: Path, max_bytes: int) -> Any:
    """The parsed document; :class:`FileProblem` when it cannot be read, is too large or is not
    YAML (with the line and column of the fault)."""
    import yaml

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FileProblem(path, "", f"cannot read: {exc.strerror}") from None
    if len(raw) > max_bytes:
        raise FileProblem(path, "", f"larger than {max_bytes} bytes")
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        message = f"not valid YAML: {getattr(exc, 'problem', exc)}"
        placeholder = _PLACEHOLDER.search(raw)
        if placeholder:  # a repository that renders its files before use (Jinja, cookiecutter)
            example = placeholder.group().decode(errors="replace")
            message += f" (it holds template placeholders such as {example}: render it first)"
        raise FileProblem(path, where, message) from None


class FieldError(NamedTuple):
    loc: str  # dotted keys, "" for the top level
    msg: str  # in English
    type: str  # pydantic's error type (``string_too_long``), for a translation
    ctx: dict[str, Any]  # its values (``{"max_length": 200}``)


def field_errors(
    exc: ValidationError,
    *,
    unknown: str = "unknown key",
    limit: int | None = None,
    rename: Callable[[tuple[Any, ...]], tuple[Any, ...]] = lambda loc: loc,
) -> list[FieldError]:
    """Each error once: locations are the dotted keys a writer knows (pydantic's names of
    union branches and validators are dropped; "" is the top level), an unknown key reads
    ``unknown``, and "Value error, " prefixes are dropped. ``rename`` may replace positions by
    names (a list item by its ``name:``)."""
    out: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors():
        parts = rename(err["loc"])
        key = ""
        if len(parts) >= 2 and parts[-1] == "[key]":  # a mapping's key is wrong, not its value
            key, parts = f" key {parts[-2]!r}", parts[:-2]
        loc = ".".join(str(x) for x in parts if not _internal(x)) + key
        msg = unknown if err["type"] == "extra_forbidden" else err["msg"]
        msg = msg.removeprefix("Value error, ")
        if (loc, msg) not in seen:
            seen.add((loc, msg))
            out.append(FieldError(loc, msg, err["type"], dict(err.get("ctx") or {})))
        if limit is not None and len(out) >= limit:
            break
    return out


def checked(model: type[_M], **values: Any) -> _M:
    """``model`` from ``values`` (a form's, a command line's), its first problem an
    InvalidInput naming the field."""
    try:
        return model(**values)
    except ValidationError as exc:
        first = field_errors(exc, limit=1)[0]
        raise InvalidInput("{field}: {problem}", field=first.loc, problem=first.msg) from None


def _internal(part: Any) -> bool:
    """pydantic names union branches (``FlagSpec``) and wrappers (``function-after[...]``)."""
    return isinstance(part, str) and (part[:1].isupper() or "[" in part)
