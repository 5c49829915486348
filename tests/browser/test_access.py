"""The Access page as a member uses it and the console's WireGuard page, in Debian's Chromium
(Playwright), axe-core on every page visited: add a key, add a device and take its
configuration (shown once: download, QR code, text), revoke it; the organiser sees and revokes
devices. Screenshots in ``test-artifacts/``."""

from __future__ import annotations

import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from playwright.sync_api import Browser, expect

from tests.support.env import ADMIN
from tests.support.live import Live, audit, live, shot, team_login  # noqa: F401 - live: a fixture


def test_a_member_adds_a_key_and_a_device_and_the_organiser_revokes_it(
    browser: Browser,
    live: Live,  # noqa: F811
) -> None:
    page = browser.new_page(bypass_csp=True, accept_downloads=True)
    page.on("dialog", lambda d: d.accept())
    team_login(page, live, "Estonia")
    page.get_by_role("link", name="Access").click()
    expect(page.get_by_role("heading", name="How you reach your targets")).to_be_visible()
    audit(page)
    key = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    page.get_by_label("Whose key").fill("Kadri")
    page.get_by_label("Public key (the line of your id_ed25519.pub)").fill(key + " kadri@laptop")
    page.get_by_role("button", name="Add the key").click()
    expect(page.get_by_text(re.compile(r"Key SHA256:\S+ added"))).to_be_visible()
    expect(page.get_by_role("cell", name="Kadri", exact=True)).to_be_visible()
    audit(page)
    page.get_by_label("Device name").fill("Kadri's laptop")
    page.get_by_role("button", name="Add a device").click()
    expect(
        page.get_by_role("heading", name="WireGuard configuration for Kadri's laptop")
    ).to_be_visible()
    config = page.get_by_role("textbox", name="Configuration").input_value()
    assert "PrivateKey = " in config and "AllowedIPs = " in config
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    with page.expect_download() as dl:
        page.get_by_role("link", name=re.compile(r"Download .+\.conf")).click()
    assert Path(dl.value.path()).read_text(encoding="utf-8") == config  # the same text
    audit(page)
    shot(page, "access-new-device")
    page.get_by_role("link", name="Back to access").click()
    expect(page.get_by_role("cell", name="Kadri's laptop", exact=True)).to_be_visible()
    assert "PrivateKey" not in page.content()  # never shown again
    audit(page)
    shot(page, "access")

    org = browser.new_page(bypass_csp=True)
    org.on("dialog", lambda d: d.accept())
    org.goto(f"{live.url}/console/login")
    org.get_by_label("Organiser token").fill(ADMIN)
    org.get_by_role("button", name="Log in").click()
    org.get_by_role("link", name="WireGuard").click()
    expect(org.get_by_role("heading", name="Estonia")).to_be_visible()
    expect(org.get_by_role("cell", name="Kadri's laptop", exact=True)).to_be_visible()
    audit(org)
    shot(org, "console-wireguard")
    org.get_by_role("button", name="Revoke Kadri's laptop").click()
    expect(org.get_by_text("Device revoked: it cannot connect any more.")).to_be_visible()
    expect(org.get_by_text("No team has a WireGuard device yet.")).to_be_visible()
    audit(org)
    page.reload()
    expect(page.get_by_text("No devices yet.")).to_be_visible()
