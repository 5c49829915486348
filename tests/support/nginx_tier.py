"""nginx with infra/deploy's site (render-site.sh) in front of a gunicorn, on free loopback
ports, with a throw-away certificate: for the tests of the web tier and ``bench/core_api.py
--via nginx``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support import REPO

STATIC = REPO / "range_control" / "web" / "static"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    def __init__(self, tmp: Path, upstream: str) -> None:
        exe = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(exe).exists():
            raise RuntimeError("nginx missing: apt-get install nginx (infra/setup.sh)")
        self.dir = tmp / "nginx"
        self.dir.mkdir()
        self.cert = self.dir / "cert.pem"
        cert, key = self.dir / "cert.pem", self.dir / "key.pem"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
        )
        self.http, self.https = _free_port(), _free_port()
        site = subprocess.run(
            [str(REPO / "infra/deploy/render-site.sh")],
            env={
                **os.environ,
                "RANGE_SITE_HTTP_PORT": str(self.http),
                "RANGE_SITE_HTTPS_PORT": str(self.https),
                "RANGE_SITE_UPSTREAM": upstream,
                "RANGE_SITE_STATIC": str(STATIC),
                "RANGE_SITE_CACHE": str(self.dir / "cache"),
                "RANGE_SITE_CERT": str(cert),
                "RANGE_SITE_KEY": str(key),
                "RANGE_SITE_NAME": "localhost",
            },
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (self.dir / "site.conf").write_text(site)
        temp = "\n".join(
            f"  {k}_temp_path {self.dir}/{k};"
            for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (self.dir / "nginx.conf").write_text(
            f"user root;\nworker_processes 2;\npid {self.dir}/nginx.pid;\n"
            f"error_log {self.dir}/error.log warn;\ndaemon off;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n  include /etc/nginx/mime.types;\n  access_log off;\n{temp}\n"
            f"  include {self.dir}/site.conf;\n}}\n"
        )
        test = subprocess.run(
            [exe, "-t", "-c", str(self.dir / "nginx.conf")], capture_output=True, text=True
        )
        if test.returncode != 0:
            raise RuntimeError(f"nginx -t: {test.stderr}")
        self.proc = subprocess.Popen(
            [exe, "-c", str(self.dir / "nginx.conf")], start_new_session=True
        )
        self.ssl = ssl.create_default_context(cafile=str(cert))
        deadline = time.monotonic() + 20
        while True:
            try:
                self.call("GET", "/healthz")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError((self.dir / "error.log").read_text()) from None
                time.sleep(0.2)

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        base: str | None = None,
    ) -> tuple[int, bytes, Any]:
        req = urllib.request.Request(  # noqa: S310 - loopback only
            (base or self.base) + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                **(headers or {}),
                **({"Authorization": f"Bearer {token}"} if token else {}),
            },
        )
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self.ssl), _NoRedirect()
        )
        try:
            with opener.open(req, timeout=30) as r:
                return r.status, r.read(), r.headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers

    @property
    def base(self) -> str:
        return f"https://localhost:{self.https}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
