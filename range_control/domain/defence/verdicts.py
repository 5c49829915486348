"""What a checker's answer means, and the verdict of a tick.

The two published contracts, as they are:

* the Hackerdom/ForcAD executable: exit code 101 OK, 102 CORRUPT, 103 MUMBLE, 104 DOWN, 110
  CHECKER ERROR; any other code (a crash, a kill at the timeout) is a checker error too;
  stdout is the public message, stderr the private one;
* EnoEngine's checker API v2: ``result`` OK, MUMBLE, OFFLINE (our DOWN) or INTERNAL_ERROR (a
  checker error); anything else the checker answers (not JSON, another word, a timeout) is a
  checker error.

A tick's chain runs in order (the service check, then this tick's puts and gets, then the gets
of older flags still valid): its verdict is the first of this tick's answers that is not OK
(ForcAD and EnoEngine do the same); when all of them are OK but an older flag is gone, the
verdict is RECOVERING (FAUST, EnoEngine, saarCTF). A checker error is never the team's fault:
the scoring holds it out (``scoring``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    OK = "OK"
    RECOVERING = "RECOVERING"
    MUMBLE = "MUMBLE"
    CORRUPT = "CORRUPT"
    DOWN = "DOWN"
    CHECKER_ERROR = "CHECKER ERROR"
    NOT_CHECKED = "NOT CHECKED"

    @property
    def team_fault(self) -> bool:
        """A verdict the team answers for (a checker error or a tick not checked is not)."""
        return self not in (Verdict.CHECKER_ERROR, Verdict.NOT_CHECKED)


EXIT_CODES = {
    101: Verdict.OK,
    102: Verdict.CORRUPT,
    103: Verdict.MUMBLE,
    104: Verdict.DOWN,
    110: Verdict.CHECKER_ERROR,
}
ENO_RESULTS = {
    "OK": Verdict.OK,
    "MUMBLE": Verdict.MUMBLE,
    "OFFLINE": Verdict.DOWN,
    "INTERNAL_ERROR": Verdict.CHECKER_ERROR,
}
MESSAGE_MAX = 1024  # of a public or a private message, as ForcAD keeps them


def of_exit_code(code: int | None) -> Verdict:
    """An exit code of the executable contract; None (killed, never ended) is a checker error."""
    return (
        EXIT_CODES.get(code, Verdict.CHECKER_ERROR) if code is not None else Verdict.CHECKER_ERROR
    )


def of_eno(result: object) -> Verdict:
    """The ``result`` of an EnoEngine checker's answer."""
    return (
        ENO_RESULTS.get(result, Verdict.CHECKER_ERROR)
        if isinstance(result, str)
        else (Verdict.CHECKER_ERROR)
    )


def bounded(text: object, most: int = MESSAGE_MAX) -> str:
    """A message as it is kept: text, no NUL, at most ``most`` characters."""
    value = text if isinstance(text, str) else ("" if text is None else str(text))
    value = value.replace("\x00", "")
    return value if len(value) <= most else value[: most - 1] + "…"


@dataclass(frozen=True, slots=True)
class Answer:
    """One action of a tick's chain as the checker answered it."""

    action: str  # check | put | get | putnoise | getnoise | havoc
    verdict: Verdict
    public: str = ""
    private: str = ""
    store: int = 0  # the flag store (or variant) it was about; 0 for the service check
    current: bool = True  # about this tick's flag (False: an older flag still valid)
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class TickVerdict:
    verdict: Verdict
    public: str
    private: str
    cause: str  # the action that decided it ("" when all were OK)


def of_chain(answers: Iterable[Answer]) -> TickVerdict:
    """The verdict of one team's service for one tick (see the module's docstring)."""
    older_gone: Answer | None = None
    for a in answers:
        if a.current:
            if a.verdict is not Verdict.OK:
                return TickVerdict(a.verdict, a.public, a.private, a.action)
        elif a.verdict.team_fault and a.verdict is not Verdict.OK and older_gone is None:
            older_gone = a
    if older_gone is not None:
        return TickVerdict(
            Verdict.RECOVERING, older_gone.public, older_gone.private, older_gone.action
        )
    return TickVerdict(Verdict.OK, "", "", "")
