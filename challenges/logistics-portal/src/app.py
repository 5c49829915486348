"""2 LOG BN convoy tracker. Deliberately vulnerable: the convoy lookup concatenates SQL."""

import html
import os
import sqlite3
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

db = sqlite3.connect(":memory:", check_same_thread=False)
db.executescript(
    """
    CREATE TABLE convoys (id INTEGER PRIMARY KEY, route TEXT, status TEXT);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, classification TEXT, body TEXT);
    INSERT INTO convoys VALUES (7, 'Bridge 12 - Supply Point DELTA', 'holding');
    INSERT INTO convoys VALUES (9, 'Railhead NORTH - FOB IRON GATE', 'moving');
    INSERT INTO orders VALUES (1, 'UNCLASSIFIED', 'Convoys keep 50 m spacing.');
    """
)
db.execute(
    "INSERT INTO orders VALUES (2, 'CLASSIFIED', ?)",
    (f"Move at 0400Z. Authentication code: {os.environ.get('RANGE_FLAG', 'ICE{missing}')}",),
)

PAGE = """<!doctype html><title>Convoy tracker</title><h1>2 LOG BN convoy tracker</h1>
<form><label>Convoy number <input name=convoy></label><button>Look up</button></form>{body}"""


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        if url.path == "/health":
            return self.reply(200, "ok")
        convoy = parse_qs(url.query).get("convoy", [""])[0]
        body = ""
        if convoy:
            try:
                rows = db.execute(f"SELECT route, status FROM convoys WHERE id = {convoy}").fetchall()
                body = "".join(f"<p>{html.escape(str(r))} - {html.escape(str(s))}</p>" for r, s in rows)
                body = body or "<p>No such convoy.</p>"
            except sqlite3.Error as exc:
                body = f"<p>Database error: {html.escape(str(exc))}</p>"
        return self.reply(200, PAGE.format(body=body))

    def reply(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
