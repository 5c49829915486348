"""Network diagnostics panel. Deliberately vulnerable: the host name goes through a shell."""

import html
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PAGE = """<!doctype html><title>Diagnostics</title><h1>Name resolution check</h1>
<form><label>Host <input name=host></label><button>Resolve</button></form><pre>{out}</pre>"""


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        if url.path == "/health":
            return self.reply("ok")
        host = parse_qs(url.query).get("host", [""])[0][:200]
        out = ""
        if host:
            run = subprocess.run(f"getent hosts {host}", shell=True, capture_output=True,  # noqa: S602
                                 text=True, timeout=5)
            out = (run.stdout + run.stderr) or "does not resolve"
        return self.reply(PAGE.format(out=html.escape(out)))

    def reply(self, text: str) -> None:
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
