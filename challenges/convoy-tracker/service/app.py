"""2 LOG BN convoy tracker: units file their convoys' movement orders behind a PIN, and look
convoys up by callsign. The team that runs it must keep it up and keep the orders secret.

Deliberately vulnerable: the callsign search builds its SQL from the query string."""

import json
import os
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

DATA = os.environ.get("TRACKER_DATA", "/srv/data")
LOCK = threading.Lock()
db = sqlite3.connect(os.path.join(DATA, "tracker.db"), check_same_thread=False)
db.executescript(
    """
    CREATE TABLE IF NOT EXISTS convoys (
        id INTEGER PRIMARY KEY, callsign TEXT, orders TEXT, pin TEXT
    );
    """
)
db.commit()

PAGE = """<!doctype html><title>Convoy tracker</title><h1>2 LOG BN convoy tracker</h1>
<p>File a convoy: POST /convoy {callsign, orders, pin}. Read it: GET /convoy/ID?pin=PIN.
Search: GET /search?callsign=NAME.</p>"""


class Handler(BaseHTTPRequestHandler):
    def _send(self, code: int, body: object, kind: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/":
            return self._send(200, PAGE, "text/html")
        if url.path.startswith("/convoy/"):
            with LOCK:
                row = db.execute(
                    "SELECT id, callsign, orders, pin FROM convoys WHERE id = ?",
                    (url.path.rsplit("/", 1)[1],),
                ).fetchone()
            if row is None:
                return self._send(404, {"error": "no such convoy"})
            if query.get("pin", [""])[0] != row[3]:
                return self._send(403, {"error": "wrong PIN"})
            return self._send(200, {"id": row[0], "callsign": row[1], "orders": row[2]})
        if url.path == "/search":
            callsign = query.get("callsign", [""])[0]
            sql = f"SELECT id, callsign FROM convoys WHERE callsign LIKE '%{callsign}%' LIMIT 50"
            try:
                with LOCK:
                    rows = db.execute(sql).fetchall()
            except sqlite3.Error as exc:
                return self._send(400, {"error": str(exc)})
            return self._send(200, [{"id": r[0], "callsign": r[1]} for r in rows])
        return self._send(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/convoy":
            return self._send(404, {"error": "not found"})
        length = min(int(self.headers.get("Content-Length") or 0), 65536)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            fields = [str(body[k]) for k in ("callsign", "orders", "pin")]
        except (ValueError, KeyError, TypeError):
            return self._send(400, {"error": "callsign, orders and pin, as JSON"})
        with LOCK:
            cur = db.execute(
                "INSERT INTO convoys (callsign, orders, pin) VALUES (?, ?, ?)", fields
            )
            db.commit()
        return self._send(201, {"id": cur.lastrowid})

    def log_message(self, *_args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    # Every team's checker and attackers connect at once: the standard library's backlog of 5
    # resets the connections beyond it (a service that looks DOWN while it is up).
    request_queue_size = 128


if __name__ == "__main__":
    Server(("0.0.0.0", 8080), Handler).serve_forever()  # noqa: S104
