"""The real Docker engine for the tests that need it (a missing engine fails loudly), and logging
into a team's jumpbox as the team does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

BUSYBOX = Path("/bin/busybox")


@pytest.fixture(scope="session")
def client():
    """The real Docker engine, with the base image; a missing engine fails loudly."""
    import docker

    from range_control.orchestrator import images

    try:
        c = docker.from_env(timeout=300)
        c.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"no Docker engine ({exc!r}): run infra/engine.sh", pytrace=False)
    if not images.image_exists(c, images.BASE_IMAGE):
        images.build_base(c)
    if not BUSYBOX.is_file():
        pytest.fail("/bin/busybox missing: apt-get install busybox-static", pytrace=False)
    return c


@contextmanager
def jumpbox_ssh(
    host: str,
    port: int,
    password: str | None,
    wait: float = 20,
    pkey: Any = None,
    user: str = "team",
) -> Iterator[Any]:
    """Logged into a team's jumpbox as the team is (user ``team``, its password or a member's
    key ``pkey``; the red cell's as one of its people, ``user``), retrying for ``wait``
    seconds: sshd may still be starting. No login by then is an AssertionError naming the port
    and the last error (a wrong password too)."""
    import paramiko

    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - a throw-away jumpbox
    deadline, last = time.monotonic() + wait, None
    while True:
        try:
            c.connect(
                host,
                port=port,
                username=user,
                password=password,
                pkey=pkey,
                timeout=10,
                banner_timeout=10,
                allow_agent=False,
                look_for_keys=False,
            )
            break
        except (paramiko.SSHException, OSError, EOFError) as exc:
            last = exc
            if time.monotonic() > deadline:
                raise AssertionError(f"no SSH login on {host}:{port}: {last!r}") from None
            time.sleep(0.5)
    try:
        yield c
    finally:
        c.close()
