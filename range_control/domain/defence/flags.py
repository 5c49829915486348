"""Flags that prove themselves: one per tick, team, defended service and flag store, carrying
those four numbers and a keyed MAC (HMAC-SHA256 with a key derived from the range's flag secret
and the event), as saarCTF and ECSC do, so a submitted flag is checked without a lookup.

Three shapes, as checkers expect them:

* ``forcad``: ``[A-Z0-9]{31}=`` (Hackerdom/ForcAD checkers; the first letter is the service's
  initial, as ForcAD's), the numbers and 80 bits of MAC in base 36;
* ``eno``: ``ENO`` and base64 (EnoEngine's shape), the numbers and 160 bits of MAC;
* ``event``: ``PREFIX{...}`` with base64url inside (the event's own prefix).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass

FORMATS = ("forcad", "eno", "event")
_PACK = struct.Struct(">IHHB")  # tick, team, service, store: 9 bytes
_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MAC = {"forcad": 10, "eno": 20, "event": 16}
_FORCAD = re.compile(r"^[A-Z0-9]{31}=$")
_ENO = re.compile(r"^ENO[A-Za-z0-9+/]{39}=$")
_EVENT = re.compile(r"^([A-Za-z0-9_]{1,16})\{([A-Za-z0-9_-]{20,80})\}$")


@dataclass(frozen=True, slots=True)
class FlagFacts:
    """Whose flag it is: the tick it was placed at, the team, the defended service (its
    challenge id) and the flag store (1-based)."""

    tick: int
    team_id: int
    service_id: int
    store: int


def _key(secret: str, event: str) -> bytes:
    return hmac.new(secret.encode(), f"defence-flags\x00{event}".encode(), hashlib.sha256).digest()


def _mac(key: bytes, fmt: str, head: str, payload: bytes) -> bytes:
    message = fmt.encode() + b"\x00" + head.encode() + b"\x00" + payload
    return hmac.new(key, message, hashlib.sha256).digest()[: _MAC[fmt]]


def _mask(key: bytes, mac: bytes) -> bytes:
    """The numbers are hidden under a keystream of the MAC: no flag shows its tick or team."""
    return hmac.new(key, b"mask\x00" + mac, hashlib.sha256).digest()[: _PACK.size]


def _seal(key: bytes, fmt: str, head: str, payload: bytes) -> bytes:
    mac = _mac(key, fmt, head, payload)
    return bytes(a ^ b for a, b in zip(payload, _mask(key, mac), strict=True)) + mac


def _initial(service: str) -> str:
    first = next((ch for ch in service.upper() if ch in _B36[10:]), "X")
    return first


def make(
    secret: str, event: str, facts: FlagFacts, fmt: str, service: str = "", prefix: str = "ICE"
) -> str:
    """The flag of ``facts`` in ``fmt`` (``service``: its slug, for ForcAD's initial letter)."""
    payload = _PACK.pack(facts.tick, facts.team_id, facts.service_id, facts.store)
    key = _key(secret, event)
    if fmt == "forcad":
        head = _initial(service)
        number = int.from_bytes(_seal(key, fmt, head, payload), "big")
        digits = []
        for _ in range(30):
            number, rest = divmod(number, 36)
            digits.append(_B36[rest])
        return head + "".join(reversed(digits)) + "="
    if fmt == "eno":
        return "ENO" + base64.b64encode(_seal(key, fmt, "ENO", payload)).decode()
    if fmt == "event":
        body = base64.urlsafe_b64encode(_seal(key, fmt, prefix, payload)).decode()
        return f"{prefix}{{{body.rstrip('=')}}}"
    raise ValueError(f"unknown flag format {fmt!r} (one of {', '.join(FORMATS)})")


def read(secret: str, event: str, flag: str) -> FlagFacts | None:
    """Whose flag ``flag`` is, when the range made it (its MAC checks, in constant time); None
    for anything else. Bounded: nothing longer than 100 characters is looked at."""
    if len(flag) > 100:
        return None
    try:
        fmt, head, raw = _decode(flag.strip())
    except (ValueError, binascii.Error):
        return None
    n = _PACK.size
    if raw is None or len(raw) != n + _MAC[fmt]:
        return None
    key = _key(secret, event)
    mac = raw[n:]
    payload = bytes(a ^ b for a, b in zip(raw[:n], _mask(key, mac), strict=True))
    if not hmac.compare_digest(mac, _mac(key, fmt, head, payload)):
        return None
    return FlagFacts(*_PACK.unpack(payload))


def _decode(flag: str) -> tuple[str, str, bytes | None]:
    if _FORCAD.match(flag):
        number = 0
        for ch in flag[1:31]:
            number = number * 36 + _B36.index(ch)
        size = _PACK.size + _MAC["forcad"]
        if number >= 1 << (8 * size):
            return "forcad", flag[0], None
        return "forcad", flag[0], number.to_bytes(size, "big")
    if _ENO.match(flag):
        return "eno", "ENO", base64.b64decode(flag[3:], validate=True)
    m = _EVENT.match(flag)
    if m:
        body = m.group(2)
        return "event", m.group(1), base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return "", "", None


def regex(fmt: str, prefix: str = "ICE") -> str:
    """What a flag of ``fmt`` looks like (for farms and exploits: ``FLAG_FORMAT``)."""
    if fmt == "forcad":
        return "[A-Z0-9]{31}="
    if fmt == "eno":
        return "ENO[A-Za-z0-9+/]{39}="
    return re.escape(prefix) + r"\{[A-Za-z0-9_-]{20,80}\}"


def flag_id(secret: str, event: str, facts: FlagFacts) -> str:
    """The id a checker is given with a flag (ForcAD's ``flag_id``): unguessable, 16 characters
    of [a-z0-9], stable for the same flag (a retried put uses the same id)."""
    payload = _PACK.pack(facts.tick, facts.team_id, facts.service_id, facts.store)
    mac = hmac.new(_key(secret, event), b"flag-id\x00" + payload, hashlib.sha256).digest()
    number = int.from_bytes(mac[:11], "big")
    out = []
    for _ in range(16):
        number, rest = divmod(number, 36)
        out.append(_B36[rest].lower())
    return "".join(out)
