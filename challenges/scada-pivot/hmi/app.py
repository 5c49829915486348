"""Water plant HMI. Deliberately weak: it forwards any register name to the PLC, refusing
only the exact string FLAG."""

import html
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PAGE = """<!doctype html><title>HMI</title><h1>Water plant HMI</h1>
<p>Registers: TEMP, PRESSURE, PUMP1, PUMP2</p>
<form action=/read><input name=register><button>Read</button></form><pre>{out}</pre>"""


def read(register: str) -> str:
    with socket.create_connection(("plc", 5020), timeout=5) as conn:
        conn.sendall(f"READ {register}\n".encode())
        return conn.makefile().readline().strip()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        if url.path == "/health":
            return self.reply("ok")
        register = parse_qs(url.query, keep_blank_values=True).get("register", [""])[0][:100]
        out = ""
        if register:
            if register.upper() == "FLAG":
                out = "ERR the FLAG register is restricted to maintenance staff"
            else:
                try:
                    out = read(register)
                except OSError as exc:
                    out = f"ERR PLC unreachable: {exc}"
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
