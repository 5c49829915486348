"""Real repositories' ``challenge.yml`` files, read the way ctfcli reads them.

:func:`normalise` turns the parsed document into what :class:`ChallengeSpec` validates, and says
what it did: *warnings* for what loads but is not used as written (an unknown key of the
repository's own, a CTFd plugin type, a key of ctfcli's deployment that the range does its own
way), *errors* for what is really wrong (a key that looks like a misspelling of a known one).
Nothing is dropped without a warning that names it.

ctfcli's deployment keys become the range's own: ``image: <dir>`` (a directory with a
Dockerfile) is an ``environment:`` with one service built from it, its port from the
Dockerfile's ``EXPOSE``, so the challenge runs per team like the range's own; ``image:
<name>`` (a prebuilt image) is a service of that image, which must be present on the engine
(``services/catalog.py`` checks, the range being air-gapped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from range_control.specs.challenge import ChallengeSpec, HintSpec, RequirementsSpec

KNOWN = frozenset(ChallengeSpec.model_fields)
_HINT_KEYS = frozenset(HintSpec.model_fields)
_REQUIREMENTS_KEYS = frozenset(RequirementsSpec.model_fields)
_FLAG_DATA = {"case_insensitive", "case_sensitive", "", None}
_PLUGIN_EXTRA = ("initial", "decay", "minimum", "function")
# ctfcli keys that describe CTFd's own deployment or menus: read, not used here.
_IGNORED = {
    "module": "CTFd's challenge modules (menus) are not part of the range",
    "host": "the range places each team's instance itself",
    "next": "the range suggests no next challenge",
}
_CTFCLI_MARKS = frozenset({"value", "flags", "type", "category", "extra", "hints"})
# Other platforms' ways of running a challenge's container (TCP1P's ``container:`` block and
# ``scripts: start:``, docker-compose files): the range cannot run them as written, and loading
# such a challenge as a static one would give teams a challenge nobody can reach.
_FOREIGN_RUN = frozenset({"container", "containers", "compose", "docker-compose", "docker_compose"})
_COMPOSE = re.compile(r"(^|/)(docker-)?compose(\.[\w-]+)?\.ya?ml$", re.IGNORECASE)
WRITE_INSTEAD = (
    "write `image: <directory with its Dockerfile>` (ctfcli's, its port from EXPOSE) or "
    "`environment: {services: [{name: app, build: <directory>, ports: [<port>]}]}`"
)
_EXPOSE = re.compile(r"^\s*EXPOSE\s+(.+)$", re.IGNORECASE | re.MULTILINE)


@dataclass
class Note:
    where: str  # dotted key, "" for the whole file
    message: str


@dataclass
class Normalised:
    data: dict[str, Any]
    warnings: list[Note] = field(default_factory=list)
    errors: list[Note] = field(default_factory=list)
    foreign: bool = False  # not ctfcli's format at all: the errors say so, nothing else

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(Note(where, message))


def did_you_mean(key: str, known: frozenset[str]) -> str | None:
    """The known key that ``key`` most likely misspells (``flagz``, ``catagory``, ``hint``,
    ``flgas``): one edit away (two for keys of seven letters or more, a swap of neighbours
    counting as one), so a repository's own keys (``difficulty``, ``points``,
    ``connection_port``) are not taken for typos."""
    word = key.lower()
    allowed = 2 if len(word) >= 7 else 1
    best = min(sorted(known), key=lambda k: _edits(word, k))
    return best if _edits(word, best) <= allowed else None


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, swaps."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


def _known_keys(
    mapping: dict[Any, Any], known: frozenset[str], prefix: str, kind: str, out: Normalised
) -> dict[Any, Any]:
    """A copy of ``mapping`` with only the ``known`` keys: a key that misspells one of them is
    an error with "did you mean", any other a warning that it is ignored."""
    kept = {}
    for key, value in mapping.items():
        if key in known:
            kept[key] = value
            continue
        guess = did_you_mean(str(key), known)
        if guess is not None:
            out.errors.append(Note(f"{prefix}{key}", f"unknown key: did you mean {guess!r}?"))
        else:
            out.warn(f"{prefix}{key}", f"not a {kind} key: ignored")
    return kept


def _foreign_run(data: dict[str, Any]) -> Note | None:
    """Another platform's container, named with what to write instead (None: none)."""
    for key, value in data.items():
        if key in _FOREIGN_RUN and value not in (None, "", [], {}):
            return Note(key, f"another platform's container, not run by the range: {WRITE_INSTEAD}")
        if key == "scripts" and isinstance(value, dict) and "start" in value:
            return Note(
                "scripts.start",
                f"a start script runs another platform's container, not the range: {WRITE_INSTEAD}",
            )
        if key in KNOWN and key != "image":
            continue  # files: [docker-compose.yml] is a handout, not a way to run it
        texts = [value] if isinstance(value, str) else []
        if isinstance(value, list | dict):
            texts = [
                v
                for v in (value.values() if isinstance(value, dict) else value)
                if isinstance(v, str)
            ]
        for text in texts:
            if _COMPOSE.search(text.strip()):
                return Note(
                    str(key),
                    f"{text.strip()[:80]!r} is a docker-compose file, not run by the range: "
                    f"{WRITE_INSTEAD}",
                )
    return None


def normalise(raw: dict[str, Any], directory: Path) -> Normalised:
    out = Normalised(dict(raw))
    data = out.data
    if "name" not in data and not _CTFCLI_MARKS & data.keys():
        # Another tool's challenge.yml (a Root-Me or Solidity template, an Ansible play ...).
        keys = ", ".join(sorted(str(k) for k in data)[:6])
        out.errors.append(
            Note("", f"not ctfcli's challenge.yml: no name, value or flags (its keys: {keys})")
        )
        out.foreign = True
        return out
    for key in [k for k in data if not isinstance(k, str)]:
        out.errors.append(Note(str(key), "keys must be text"))
        del data[key]
    refused = _foreign_run(data)
    if refused is not None:  # one line: what to write instead, nothing else
        out.errors.append(refused)
        out.foreign = True
        return out
    data = out.data = _known_keys(data, KNOWN, "", "challenge.yml", out)
    for key in [k for k, v in data.items() if v is None]:
        # ctfcli writes null for "not used" (`image: null`, `description: null`): the default.
        if ChallengeSpec.model_fields[key].get_default(call_default_factory=True) is not None:
            del data[key]
    if isinstance(data.get("requirements"), dict):
        data["requirements"] = _known_keys(
            data["requirements"], _REQUIREMENTS_KEYS, "requirements.", "requirements", out
        )
    for key, why in _IGNORED.items():
        if data.get(key) not in (None, ""):
            out.warn(key, f"ignored: {why}")
    if "version" in data and isinstance(data["version"], int | float):
        data["version"] = str(data["version"])  # version: 0.1 unquoted is a number in YAML
    for key in ("tags", "topics"):
        data[key] = _texts(data.get(key), key, out)
    _type(data, out)
    _flags(data, out)
    _hints(data, out)
    _logic(data, out)
    _deployment(data, directory, out)
    # People grade a task, the checker places a defended service's flags: no flag to give.
    graded = data.get("type") in ("task", "defended")
    if not graded and not data.get("flags") and not data.get("dynamic_flag") and not out.errors:
        out.warn(
            "flags",
            "no flag: loaded, but no flag solves it (add a flag, or award points by hand)",
        )
    return out


def _texts(items: Any, key: str, out: Normalised) -> Any:
    """Tags and topics as text: numbers are written as they read (``2024``), ctfcli's
    ``{value: x}`` form too; anything else is left for validation to name."""
    if items is None:
        return []
    if not isinstance(items, list):
        return items
    texts = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("value"), str | int | float):
            item = item["value"]
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            texts.append(item)
        else:
            texts.append(str(item))
    return texts


def _type(data: dict[str, Any], out: Normalised) -> None:
    kind = data.get("type", "standard")
    extra = data.get("extra")
    if kind in (None, "standard"):
        if extra is not None:
            out.warn("extra", "ignored for a standard challenge: it is scored by its value")
            data.pop("extra")
        return
    if kind in ("task", "defended") and extra is not None:
        out.warn("extra", f"ignored for a {kind} challenge: it is scored by its value")
        data.pop("extra")
    if kind in ("dynamic", "task", "defended") or not isinstance(kind, str):
        return
    # A CTFd plugin type (kubernetes, ecsc, ...): a standard challenge here.
    ignored = sorted(str(k) for k in extra) if isinstance(extra, dict) else []
    note = f"; extra keys ignored: {', '.join(ignored)}" if ignored else ""
    if data.get("value") is None and isinstance(extra, dict):
        initial = extra.get("initial")
        if isinstance(initial, int) and not isinstance(initial, bool):
            data["value"] = initial
            note += f"; value {initial} (its extra.initial)"
    out.warn("type", f"{kind!r} is a CTFd plugin type: loaded as a standard challenge{note}")
    data["type"] = "standard"
    data.pop("extra", None)


def _flags(data: dict[str, Any], out: Normalised) -> None:
    flags = data.get("flags")
    if not isinstance(flags, list):
        return
    for i, flag in enumerate(flags):
        if isinstance(flag, dict) and flag.get("data") not in _FLAG_DATA:
            out.warn(
                f"flags.{i}.data",
                f"{flag.get('data')!r} is not case_insensitive: the flag is case-sensitive",
            )


def _hints(data: dict[str, Any], out: Normalised) -> None:
    hints = data.get("hints")
    if not isinstance(hints, list):
        return
    keys = {str(h["key"]) for h in hints if isinstance(h, dict) and h.get("key") is not None}
    hints = data["hints"] = list(hints)  # the parsed document itself stays as it was read
    for i, hint in enumerate(hints):
        if not isinstance(hint, dict):
            continue
        hint = hints[i] = _known_keys(hint, _HINT_KEYS, f"hints.{i}.", "hint", out)
        if hint.get("key") is not None:
            hint["key"] = str(hint["key"])
        reqs = hint.get("requirements")
        if isinstance(reqs, list):
            kept = []
            for req in reqs:
                if str(req) in keys:
                    kept.append(str(req))
                else:
                    # ctfcli skips it too, with a warning.
                    out.warn(f"hints.{i}.requirements", f"no hint has the key {req!r}: ignored")
            hint["requirements"] = kept


def _logic(data: dict[str, Any], out: Normalised) -> None:
    if data.get("logic") == "team":
        out.warn(
            "logic",
            "'team' (every member submits a flag) is scored as 'any': the range knows the "
            "team, not its members",
        )


def _deployment(data: dict[str, Any], directory: Path, out: Normalised) -> None:
    """ctfcli's ``image``/``protocol``/``connection_info``/``healthcheck`` -> ``environment:``."""
    image = data.get("image")
    if data.get("healthcheck") not in (None, ""):
        out.warn(
            "healthcheck",
            "ctfcli's healthcheck script is not run: add a solver (solve/solve.py) for "
            "`rangectl challenges check --live`",
        )
    if image in (None, "") or not isinstance(image, str):
        return
    if data.get("environment") is not None:
        out.warn("image", "ignored: the challenge has its own environment:")
        return
    # The service's name on the team network: the image's name without registry and tag.
    base = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    name = re.sub(r"[^a-z0-9-]+", "-", base.lower()).strip("-")
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", name):
        name = "challenge"
    service: dict[str, Any] = {
        "name": name,
        # Images written for CTFd write where they like: the root stays writable (the
        # container keeps every other limit: capabilities, memory, pids, its network).
        "read_only": False,
        "exposure": "published",
    }
    context = directory / image
    if image.startswith("registry://"):
        image = image.removeprefix("registry://")
    elif _names_a_directory(image, context) and not (context / "Dockerfile").is_file():
        out.errors.append(Note("image", f"{image!r} is a build directory without a Dockerfile"))
        return
    if (context / "Dockerfile").is_file() and not Path(image).is_absolute():
        service["build"] = image
        ports = exposed_ports(context / "Dockerfile")
        if not ports:
            out.errors.append(
                Note(
                    "image",
                    f"{image!r}: its Dockerfile has no EXPOSE: add `EXPOSE <port>` (the port "
                    "teams connect to), or describe the service under environment:",
                )
            )
            return
        service["ports"] = ports
    else:
        service["image"] = image
        service["exposure"] = "jumpbox"  # no port known: teams reach it by name
    data["environment"] = {"services": [service]}
    if data.get("connection_info"):
        out.warn(
            "connection_info",
            "each team gets its own instance: the portal shows that instance's address, "
            "not this text",
        )
    if data.get("protocol") not in (None, "http", "tcp"):
        out.warn("protocol", f"{data['protocol']!r}: only http and tcp are known; read as tcp")


def _names_a_directory(image: str, context: Path) -> bool:
    """``.``, ``./web``, ``../x`` or an existing directory: a build context, not an image."""
    return image in (".", "..") or image.startswith(("./", "../")) or context.is_dir()


def exposed_ports(dockerfile: Path) -> list[int]:
    """The TCP ports of a Dockerfile's ``EXPOSE`` lines (``EXPOSE 80 1337/tcp``)."""
    try:
        text = dockerfile.read_text(errors="replace")
    except OSError:
        return []
    ports: list[int] = []
    for line in _EXPOSE.findall(text):
        for word in line.split():
            port, _, proto = word.partition("/")
            if port.isascii() and port.isdigit() and proto in ("", "tcp") and 0 < int(port) < 65536:
                ports.append(int(port))
    return sorted(set(ports))
