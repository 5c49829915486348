"""Team access through the API, the portal and the console, on SQLite and
PostgreSQL: members' SSH keys, WireGuard devices, their limits and refusals, revocation (by the
team, by the organiser, with the token, with the team), and what is never kept or shown."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from range_control.domain.keys import (
    client_config,
    gateway_keys,
    jumpbox_password,
    parse_ssh_key,
    valid_public_key,
)
from range_control.services.environments import instances, team_access
from range_control.services.environments.desired import desired_state
from range_control.services.people import teams
from range_control.store.models import AuditLog, SshKey, WireGuardPeer
from tests.support.env import FLAG_SECRET, TEST, Env, make_env, migrated_sqlite
from tests.support.web import console, csrf, login, post, token_of


def openssh(key) -> str:
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def ed_key() -> str:
    return openssh(ed25519.Ed25519PrivateKey.generate().public_key())


# --- pure rules ------------------------------------------------------------------------------
def test_ssh_keys_accepted_and_refused_with_the_reason() -> None:
    line = ed_key()
    parsed = parse_ssh_key(f"  {line} ana@laptop \n")
    assert parsed.line == line and parsed.kind == "ssh-ed25519"
    raw = base64.b64decode(line.split()[1])
    import hashlib

    assert parsed.fingerprint == "SHA256:" + base64.b64encode(
        hashlib.sha256(raw).digest()
    ).decode().rstrip("=")
    ecdsa = openssh(ec.generate_private_key(ec.SECP256R1()).public_key())
    assert parse_ssh_key(ecdsa).kind == "ecdsa-sha2-nistp256"
    rsa_ok = openssh(rsa.generate_private_key(65537, 2048).public_key())
    assert parse_ssh_key(rsa_ok).kind == "ssh-rsa"
    refusals = {
        "": "paste one public key",
        "x" * 9000: "at most 8192",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nabc": "private key",
        f"{line}\n{line}": "several lines",
        "ssh-ed25519": "'<type> <base64> [comment]'",
        'command="rm -rf /" ' + line: "not an OpenSSH public key",
        "ssh-ed25519 AAAAnotbase64!!": "not an OpenSSH public key",
        "ssh-ed25519 " + base64.b64encode(b"\0\0\0\x0bssh-ed25519\0\0\0\x05short").decode(): (
            "not an OpenSSH public key"
        ),
        openssh(rsa.generate_private_key(65537, 1024).public_key()): "1024 bits is too weak",  # noqa: S505
        "ssh-dss " + base64.b64encode(b"\0\0\0\x07ssh-dss\0\0\0\x01\x05").decode(): "DSA keys",
    }
    for text, reason in refusals.items():
        with pytest.raises(ValueError, match=re.escape(reason)):
            parse_ssh_key(text)
            pytest.fail(f"accepted: {text[:60]!r}")


def test_wireguard_keys_and_configuration() -> None:
    private, public = gateway_keys("s", "ice", 1)
    assert (private, public) == gateway_keys("s", "ice", 1)  # derived, stable
    assert public != gateway_keys("s", "ice", 2)[1] and valid_public_key(public)
    assert not valid_public_key("x" * 44) and not valid_public_key(public[:-2])
    text = client_config(
        private_key="PRIV",
        address="100.96.0.2",
        gateway_public_key=public,
        endpoint="range.example:20001",
        routes=["10.213.0.0/16"],
        gateway_address="100.96.0.1",
        label="Ana",
    )
    assert "AllowedIPs = 10.213.0.0/16, 100.96.0.1/32\n" in text
    assert "Endpoint = range.example:20001\n" in text and "0.0.0.0/0" not in text


def test_the_jumpbox_password_follows_the_token() -> None:
    a = jumpbox_password("s", "ice", 1, "h" * 64)
    assert a == jumpbox_password("s", "ice", 1, "h" * 64)
    assert (
        a != jumpbox_password("s", "ice", 1, "g" * 64) != jumpbox_password("s", "ice", 2, "h" * 64)
    )


# --- the API ---------------------------------------------------------------------------------
def test_members_add_and_remove_ssh_keys(env: Env) -> None:
    a_id, a = env.team("Alpha", "NL")
    _b_id, b = env.team("Bravo", "NO")
    c = env.client
    assert c.get("/api/v1/access").status_code == 401
    key = ed_key()
    r = c.post(
        "/api/v1/access/ssh-keys", json={"label": "Ana", "public_key": key + " ana"}, headers=a
    )
    assert r.status_code == 201 and r.json["kind"] == "ssh-ed25519"
    again = c.post("/api/v1/access/ssh-keys", json={"label": "Ana 2", "public_key": key}, headers=a)
    assert again.status_code == 409 and r.json["fingerprint"] in again.json["error"]["message"]
    bad = c.post(
        "/api/v1/access/ssh-keys", json={"label": "Bo", "public_key": "ssh-rsa AAAA"}, headers=a
    )
    assert bad.status_code == 400 and bad.json["error"]["message"].startswith("public_key: ")
    label = c.post(
        "/api/v1/access/ssh-keys", json={"label": "a\nb", "public_key": ed_key()}, headers=a
    )
    assert label.status_code == 400 and "printable" in label.json["error"]["message"]
    # Another team neither sees it nor removes it.
    assert c.get("/api/v1/access", headers=b).json["ssh_keys"] == []
    key_id = r.json["id"]
    assert c.delete(f"/api/v1/access/ssh-keys/{key_id}", headers=b).status_code == 404
    listed = c.get("/api/v1/access", headers=a).json["ssh_keys"]
    assert [k["id"] for k in listed] == [key_id]
    # The jumpbox is given exactly the key lines (no comment, no option).
    with env.ctx.store.read() as s:
        assert [k.public_key for k in s.query(SshKey)] == [key]
    assert c.delete(f"/api/v1/access/ssh-keys/{key_id}", headers=a).status_code == 204
    assert c.get("/api/v1/access", headers=a).json["ssh_keys"] == []
    with env.ctx.store.read() as s:
        actions = [row.action for row in s.query(AuditLog).order_by(AuditLog.id)]
    assert actions[-2:] == ["team.ssh_key.add", "team.ssh_key.remove"]
    assert a_id


def test_limits_refuse_clearly(tmp_path) -> None:
    env = make_env(
        migrated_sqlite(tmp_path / "r.db"),
        tmp_path,
        ssh_keys_per_team=1,
        wireguard_peers_per_team=2,
    )
    _a_id, a = env.team("Alpha", "NL")
    c = env.client
    ok = c.post("/api/v1/access/ssh-keys", json={"label": "Ana", "public_key": ed_key()}, headers=a)
    assert ok.status_code == 201
    full = c.post(
        "/api/v1/access/ssh-keys", json={"label": "Bo", "public_key": ed_key()}, headers=a
    )
    assert full.status_code == 409 and "1 SSH keys" in full.json["error"]["message"]
    for n in range(2):
        assert (
            c.post("/api/v1/access/wireguard", json={"label": f"d{n}"}, headers=a).status_code
            == 201
        )
    r = c.post("/api/v1/access/wireguard", json={"label": "third"}, headers=a)
    assert r.status_code == 409 and "2 WireGuard devices" in r.json["error"]["message"]
    env.ctx.store.dispose()


def test_a_device_is_handed_out_once_and_revoked(env: Env) -> None:
    a_id, a = env.team("Alpha", "NL")
    _b_id, b = env.team("Bravo", "NO")
    c = env.client
    r = c.post("/api/v1/access/wireguard", json={"label": "Ana's laptop"}, headers=a)
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store"
    config, peer = r.json["config"], r.json["peer"]
    private = re.search(r"PrivateKey = (\S+)", config).group(1)
    assert peer["address"] == "100.96.0.2" and valid_public_key(peer["public_key"])
    assert re.search(r"Endpoint = localhost:\d+", config)
    assert r.json["filename"].endswith(".conf") and len(r.json["filename"]) <= 20
    # Not kept: not in the table, not in the audit log, not in any later answer.
    with env.ctx.store.read() as s:
        assert all(private not in repr(vars(p)) for p in s.query(WireGuardPeer))
        assert all(private not in repr(row.detail) for row in s.query(AuditLog))
    listed = c.get("/api/v1/access", headers=a)
    assert private not in listed.get_data(as_text=True)
    assert [p["label"] for p in listed.json["peers"]] == ["Ana's laptop"]
    second = c.post("/api/v1/access/wireguard", json={"label": "phone"}, headers=a).json
    assert second["peer"]["address"] == "100.96.0.3"
    # Another team cannot revoke it; the team can; the organiser can revoke any.
    assert c.delete(f"/api/v1/access/wireguard/{peer['id']}", headers=b).status_code == 404
    assert c.delete(f"/api/v1/access/wireguard/{peer['id']}", headers=a).status_code == 204
    gws = c.get("/api/v1/admin/wireguard", headers=env.admin()).json
    assert [p["label"] for p in gws["gateways"][0]["peers"]] == ["phone"]
    assert c.get("/api/v1/admin/wireguard", headers=a).status_code == 403
    assert (
        c.delete(f"/api/v1/admin/wireguard/{second['peer']['id']}", headers=env.admin()).status_code
        == 204
    )
    assert c.get("/api/v1/access", headers=a).json["peers"] == []
    # The freed address is handed out again.
    again = c.post("/api/v1/access/wireguard", json={"label": "new"}, headers=a).json
    assert again["peer"]["address"] == "100.96.0.2"
    assert a_id


def test_rotating_the_token_or_disabling_the_team_revokes_everything(env: Env) -> None:
    a_id, a = env.team("Alpha", "NL")
    c = env.client
    for n in range(2):
        c.post(
            "/api/v1/access/ssh-keys", json={"label": f"k{n}", "public_key": ed_key()}, headers=a
        )
        c.post("/api/v1/access/wireguard", json={"label": f"d{n}"}, headers=a)
    before = env.jumpbox_password(a_id)
    issued = teams.rotate_token(env.ctx, a_id, TEST)
    assert env.jumpbox_password(a_id) != before
    new = {"Authorization": f"Bearer {issued.token}"}
    access = c.get("/api/v1/access", headers=new).json
    assert access["ssh_keys"] == [] and access["peers"] == []
    c.post("/api/v1/access/wireguard", json={"label": "again"}, headers=new)
    teams.set_disabled(env.ctx, a_id, True, TEST)
    with env.ctx.store.read() as s:
        assert s.query(WireGuardPeer).count() == 0 and s.query(SshKey).count() == 0


def test_the_reconciler_gives_keys_and_peers_to_the_team_s_entry_points(env: Env) -> None:
    a_id, a = env.team("Alpha", "NL")
    env.challenge("web", environment={"services": [{"name": "portal", "image": "range/x:1"}]})
    instances.up(env.ctx, instances.Selection(), TEST)
    key = ed_key()
    env.client.post("/api/v1/access/ssh-keys", json={"label": "Ana", "public_key": key}, headers=a)
    desired, _ = desired_state(env.ctx, wireguard=True)
    assert desired.jumpboxes[a_id].keys == (key,) and desired.gateways == {}  # no device: none
    peer = env.client.post("/api/v1/access/wireguard", json={"label": "d"}, headers=a).json["peer"]
    desired, _ = desired_state(env.ctx, wireguard=True)
    gw = desired.gateways[a_id]
    assert gw.peers == ((peer["public_key"], "100.96.0.2"),) and gw.address == "100.96.0.1/24"
    assert gw.private_key == gateway_keys(FLAG_SECRET, env.ctx.event_slug, a_id)[0]
    assert desired_state(env.ctx, wireguard=False)[0].gateways == {}


def test_wireguard_off_says_why(tmp_path) -> None:
    env = make_env(migrated_sqlite(tmp_path / "r.db"), tmp_path, wireguard="off")
    _a_id, a = env.team("Alpha", "NL")
    wg = env.client.get("/api/v1/access", headers=a).json["wireguard"]
    assert wg["enabled"] is False and "RANGE_WIREGUARD=off" in wg["reason"]
    r = env.client.post("/api/v1/access/wireguard", json={"label": "d"}, headers=a)
    assert r.status_code == 503 and "RANGE_WIREGUARD=off" in r.json["error"]["message"]
    c = login(env, token_of(a))
    page = c.get("/portal/access").get_data(as_text=True)
    assert "RANGE_WIREGUARD=off" in page and "SSH jumpbox" in page
    assert 'action="/portal/access/wireguard"' not in page
    env.ctx.store.dispose()


# --- the pages -------------------------------------------------------------------------------
def test_the_portal_s_access_page(env: Env) -> None:
    _a_id, a = env.team("Alpha", "NL")
    c = login(env, token_of(a))
    page = c.get("/portal/access").get_data(as_text=True)
    assert "Your jumpbox starts with your first challenge environment." in page
    r = post(
        c, "/portal/access", "/portal/access/ssh-keys", {"label": "Ana <b>", "public_key": ed_key()}
    )
    body = r.get_data(as_text=True)
    assert "added" in body and "Ana &lt;b&gt;" in body and "<b>" not in body.split("</nav>")[1]
    r = post(c, "/portal/access", "/portal/access/ssh-keys", {"label": "x", "public_key": "nope"})
    assert "public_key: " in r.get_data(as_text=True)
    r = c.post(
        "/portal/access/wireguard",
        data={"label": "Ana's laptop", "csrf_token": csrf(c, "/portal/access")},
    )
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    html = r.get_data(as_text=True)
    assert "<svg" in html and "PrivateKey = " in html and 'download="' in html
    assert c.post("/portal/access/wireguard", data={"label": "x"}).status_code == 400  # no CSRF
    page = c.get("/portal/access").get_data(as_text=True)
    assert "Ana&#39;s laptop" in page and "PrivateKey" not in page
    peer_id = team_access.team_access(env.ctx, _a_id).peers[0].id
    r = post(c, "/portal/access", f"/portal/access/wireguard/{peer_id}/revoke", {})
    assert "Device revoked" in r.get_data(as_text=True)


def test_the_console_lists_and_revokes_devices(env: Env) -> None:
    a_id, a = env.team("Alpha", "NL")
    peer = team_access.add_peer(env.ctx, a_id, "Ana's laptop", TEST).peer
    c = console(env)
    page = c.get("/console/wireguard").get_data(as_text=True)
    assert "Alpha" in page and "Ana&#39;s laptop" in page and "never" in page
    r = post(c, "/console/wireguard", f"/console/wireguard/{peer.id}/revoke", {})
    assert "Device revoked" in r.get_data(as_text=True)
    assert team_access.team_access(env.ctx, a_id).peers == []
    # A team session is refused there.
    assert login(env, token_of(a)).get("/console/wireguard").status_code == 403


def test_without_a_tun_device_wireguard_is_off_and_says_why(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An engine host without /dev/net/tun (the local engine's host is checked): the feature is
    off with the reason, the jumpbox remains; no gateway is wanted."""
    from range_control.orchestrator.docker import access

    monkeypatch.setattr(access, "TUN", str(env.tmp / "no-such-tun"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    a_id, a = env.team("Alpha", "NL")
    wg = env.client.get("/api/v1/access", headers=a).json["wireguard"]
    assert wg["enabled"] is False and "no-such-tun (the TUN driver)" in wg["reason"]
    assert "SSH jumpbox" in wg["reason"]
    r = env.client.post("/api/v1/access/wireguard", json={"label": "d"}, headers=a)
    assert r.status_code == 503 and "TUN driver" in r.json["error"]["message"]
    assert team_access.gateways(env.ctx)[0] == wg["reason"]
