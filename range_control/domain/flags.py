"""Flag matching and per-team dynamic flags. Pure functions: no I/O, no clock, no database."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

MAX_SUBMISSION = 1024


@dataclass(frozen=True, slots=True)
class Flag:
    type: str  # "static" | "regex"
    content: str
    case_insensitive: bool = False


@dataclass(frozen=True, slots=True)
class DynamicFlag:
    prefix: str
    length: int = 32


@lru_cache(maxsize=4096)
def _compiled(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE if case_insensitive else 0)


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def matches(flag: Flag, submission: str) -> bool:
    """True when ``submission`` satisfies ``flag``.

    Static flags are compared in constant time (case-folded first when the flag says so); regex
    flags must match the whole submission. Submissions are bounded before they get here.
    """
    if len(submission) > MAX_SUBMISSION:
        return False
    if flag.type == "regex":
        return _compiled(flag.content, flag.case_insensitive).fullmatch(submission) is not None
    if flag.case_insensitive:
        return _equal(flag.content.casefold(), submission.casefold())
    return _equal(flag.content, submission)


def dynamic_flag(secret: str, event: str, team_id: int, challenge: str, spec: DynamicFlag) -> str:
    """``PREFIX{hex}``: HMAC-SHA256 over event, team and challenge, keyed by the flag secret.

    Fields are joined with NUL so that no two (event, team, challenge) triples share an input.
    """
    message = f"{event}\x00{team_id}\x00{challenge}".encode()
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{spec.prefix}{{{digest[: spec.length]}}}"


@dataclass(frozen=True, slots=True)
class Verdict:
    correct: bool
    shared_from_team: int | None = None  # set when the text is another team's dynamic flag
    # Which flag it is: its position among the static and regex flags, DYNAMIC for the team's
    # own dynamic flag (logic "all" needs every one of them).
    matched: int | None = None


DYNAMIC = -1


def check_submission(
    submission: str,
    *,
    flags: Iterable[Flag],
    dynamic: DynamicFlag | None,
    secret: str,
    event: str,
    team_id: int,
    challenge: str,
    other_team_ids: Iterable[int] = (),
) -> Verdict:
    """Decide one attempt. Another team's dynamic flag is incorrect and reported as sharing."""
    submission = submission.strip()
    if len(submission) > MAX_SUBMISSION:
        return Verdict(False)
    if dynamic is not None:
        own = dynamic_flag(secret, event, team_id, challenge, dynamic)
        if _equal(own, submission):
            return Verdict(True, matched=DYNAMIC)
    for i, flag in enumerate(flags):
        if matches(flag, submission):
            return Verdict(True, matched=i)
    if dynamic is not None and submission.startswith(dynamic.prefix + "{"):
        for other in other_team_ids:
            if other != team_id and _equal(
                dynamic_flag(secret, event, other, challenge, dynamic), submission
            ):
                return Verdict(False, shared_from_team=other)
    return Verdict(False)
