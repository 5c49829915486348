"""SATCOM terminal management console. Deliberately weak: factory credentials still work."""

import base64
import hmac
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USERS = {"admin": "admin1234", "operator": "operator"}  # the vendor's factory defaults
CONFIG = f"""terminal: SKYLINK-7 (vendor: Orbitel)
uplink: 14.25 GHz
modem: DVB-S2 8PSK 3/4
maintenance_code: {os.environ.get('RANGE_FLAG', 'ICE{missing}')}
"""


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/health":
            return self.reply(200, "ok")
        if self.path != "/config":
            return self.reply(200, "<h1>Orbitel SKYLINK-7 management</h1><a href=/config>Configuration</a>")
        user = self.authorised()
        if user != "admin":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="Orbitel SKYLINK-7"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self.reply(200, CONFIG, "text/plain")

    def authorised(self) -> str | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        known = USERS.get(user)
        return user if known and hmac.compare_digest(known, password) else None

    def reply(self, code: int, text: str, kind: str = "text/html") -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
