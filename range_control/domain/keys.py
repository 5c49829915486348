"""How team members reach their targets: the jumpbox's password and SSH keys, WireGuard keys,
addresses and client configurations. Pure functions: no I/O, no clock, no database.

The jumpbox password and the gateway's key are derived from the range's secret, like the
flags, so neither is stored; the password also depends on the team's token (its hash), so
rotating the token rotates it. A member's WireGuard private key is made here, handed out once
and never kept: the range holds only public keys."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from range_control.core.errors import Explained

MAX_SSH_KEY = 8192  # an RSA 16384-bit key's line is about 2,800 characters
MIN_RSA_BITS = 2048
LABEL_MAX = 64
_LABEL = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")


def _derive(secret: str, *parts: object) -> bytes:
    message = "\x00".join(str(p) for p in parts).encode()
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def jumpbox_password(secret: str, event: str, team_id: int, token_hash: str) -> str:
    """The team's SSH password on its jumpbox: derived like the flags, so never stored, and
    new whenever the team's token is (``token_hash`` is its SHA-256)."""
    digest = _derive(secret, "jumpbox", event, team_id, token_hash)
    return base64.b32encode(digest).decode().lower()[:20]


def red_login(account_id: int) -> str:
    """A red cell member's user name on the red cell's jumpbox (a Unix name: the account's
    login may be an e-mail address)."""
    return f"red{account_id}"


def red_password(secret: str, event: str, account_id: int) -> str:
    """A red cell member's own password on the red cell's jumpbox: derived, never stored."""
    digest = _derive(secret, "red-jumpbox", event, account_id)
    return base64.b32encode(digest).decode().lower()[:20]


def plant_token(secret: str, event: str, plant_id: int) -> str:
    """The token the red cell leaves in a team's service for its plant ``plant_id``: derived
    (never stored), unguessable, shaped like nothing of the range's (no flag prefix)."""
    digest = _derive(secret, "red-plant", event, plant_id)
    return "RED-" + base64.b32encode(digest).decode().lower()[:26]


def shell_password(secret: str, event: str, team_id: int) -> str:
    """The team's password for the shell in its defended services: derived, never stored, the
    same for the whole event (a new one would replace the containers, and the team's patches
    in them with it)."""
    digest = _derive(secret, "defended-shell", event, team_id, "")
    return base64.b32encode(digest).decode().lower()[:20]


def clean_label(label: str, what: str = "label") -> str:
    """A person's or device's name as a team gives it: 1 to 64 printable characters."""
    label = (label or "").strip()
    if not _LABEL.match(label):
        raise Explained(
            "{what} must be 1 to {most} printable characters", what=what, most=LABEL_MAX
        )
    return label


# --- SSH keys ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SshKey:
    line: str  # "<type> <base64>": what authorized_keys gets (no options, no comment)
    fingerprint: str  # SHA256:<base64 without padding>, as ssh-keygen -l prints it
    kind: str  # ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ...


def parse_ssh_key(text: str) -> SshKey:
    """One OpenSSH public key line (``ssh-ed25519 AAAA... comment``). Refused with the reason:
    a private key, options before the key, several keys, DSA, RSA under 2048 bits."""
    text = (text or "").strip()
    if not text:
        raise Explained("paste one public key (the line of your id_ed25519.pub)")
    if len(text) > MAX_SSH_KEY:
        raise Explained("a public key is at most {most} characters", most=MAX_SSH_KEY)
    if "PRIVATE KEY" in text:
        raise Explained("this is a private key: paste the public one (the .pub file)")
    if "\n" in text or "\r" in text:
        raise Explained("one key at a time: the text has several lines")
    parts = text.split()
    if len(parts) < 2:
        raise Explained("a public key reads '<type> <base64> [comment]'")
    kind, blob = parts[0], parts[1]
    if kind == "ssh-dss":
        raise Explained("DSA keys are refused by current OpenSSH: use ssh-ed25519")
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        raw = base64.b64decode(blob, validate=True)
        key = serialization.load_ssh_public_key(f"{kind} {blob}".encode())
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        raise Explained(
            "not an OpenSSH public key (ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa, "
            "with no options before it)"
        ) from None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise Explained("an RSA key of {bits} bits is too weak (2048 at least)", bits=key.key_size)
    if not isinstance(key, ed25519.Ed25519PublicKey | rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise Explained("unsupported key type: use ssh-ed25519")
    digest = base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
    return SshKey(f"{kind} {blob}", f"SHA256:{digest}", kind)


# --- WireGuard -----------------------------------------------------------------------------
def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _public(private: Any) -> str:
    return _b64(private.public_key().public_bytes_raw())


def gateway_keys(secret: str, event: str, team_id: int) -> tuple[str, str]:
    """The team gateway's (private, public) key, derived: stable across restarts and moves,
    so members' configurations stay valid, and never stored."""
    from cryptography.hazmat.primitives.asymmetric import x25519

    private = x25519.X25519PrivateKey.from_private_bytes(_derive(secret, "wg", event, team_id))
    return _b64(private.private_bytes_raw()), _public(private)


def new_keypair() -> tuple[str, str]:
    """A fresh (private, public) key for a member's device."""
    from cryptography.hazmat.primitives.asymmetric import x25519

    private = x25519.X25519PrivateKey.generate()
    return _b64(private.private_bytes_raw()), _public(private)


def valid_public_key(text: str) -> bool:
    """A WireGuard public key: 32 bytes in base64 (44 characters)."""
    try:
        return len(text) == 44 and len(base64.b64decode(text, validate=True)) == 32
    except (ValueError, binascii.Error):
        return False


def tunnel_addresses(subnet: str) -> tuple[str, list[str]]:
    """The gateway's address (the first) and the members' (the rest) in the tunnel subnet."""
    hosts = [str(h) for h in ipaddress.ip_network(subnet).hosts()]
    return hosts[0], hosts[1:]


def gateway_interface(subnet: str) -> str:
    """The gateway's address with the tunnel's prefix (``100.96.0.1/24``)."""
    return f"{tunnel_addresses(subnet)[0]}/{ipaddress.ip_network(subnet).prefixlen}"


def client_config(
    *,
    private_key: str,
    address: str,
    gateway_public_key: str,
    endpoint: str,
    routes: list[str],
    gateway_address: str,
    label: str,
) -> str:
    """The member's wg-quick configuration: only the range's networks go through the tunnel
    (the gateway forwards only to the team's own), the rest of the laptop's traffic does not."""
    allowed = ", ".join([*routes, f"{gateway_address}/32"])
    return (
        f"# Range Control: WireGuard access for {label}\n"
        "# Import in the WireGuard app, or: wg-quick up ./<this file>\n"
        "[Interface]\n"
        f"PrivateKey = {private_key}\n"
        f"Address = {address}/32\n"
        "# Your team's services by name: uncomment to resolve through the range (other names\n"
        "# then do not resolve while the tunnel is up).\n"
        f"# DNS = {gateway_address}\n"
        "\n"
        "[Peer]\n"
        f"PublicKey = {gateway_public_key}\n"
        f"Endpoint = {endpoint}\n"
        f"AllowedIPs = {allowed}\n"
        "PersistentKeepalive = 25\n"
    )
