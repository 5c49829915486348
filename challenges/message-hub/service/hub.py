"""The headquarters' message hub: staff officers register, and leave each other messages that
only the recipient reads (HTTP Basic authentication). The team that runs it keeps it up and
keeps the messages private.

Deliberately vulnerable: the inbox trusts an ``X-On-Behalf-Of`` header, a leftover of the
hub's delegation feature, that names whose inbox to read once anyone is signed in."""

import base64
import hashlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

STORE = os.path.join(os.environ.get("HUB_DATA", "/srv/data"), "hub.json")
LOCK = threading.Lock()


def load() -> dict:
    try:
        with open(STORE) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {"users": {}, "inbox": {}}


def save(state: dict) -> None:
    tmp = STORE + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(state, fh)
    os.replace(tmp, STORE)


def digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


class Hub(BaseHTTPRequestHandler):
    def _send(self, code: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        length = min(int(self.headers.get("Content-Length") or 0), 65536)
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _user(self, state: dict) -> str | None:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return None
        try:
            name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return None
        return name if state["users"].get(name) == digest(password) else None

    def do_GET(self) -> None:  # noqa: N802
        path = urlparse(self.path).path
        if path == "/":
            return self._send(200, {"service": "HQ message hub", "users": "POST /register"})
        if path == "/inbox":
            with LOCK:
                state = load()
            user = self._user(state)
            if user is None:
                return self._send(401, {"error": "sign in (HTTP Basic)"})
            whose = self.headers.get("X-On-Behalf-Of") or user
            return self._send(200, {"user": whose, "messages": state["inbox"].get(whose, [])})
        return self._send(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        path = urlparse(self.path).path
        body = self._body()
        with LOCK:
            state = load()
            if path == "/register":
                name, password = str(body.get("user", "")), str(body.get("password", ""))
                if not name or not password or name in state["users"]:
                    return self._send(409, {"error": "taken, or empty"})
                state["users"][name] = digest(password)
                save(state)
                return self._send(201, {"user": name})
            if path == "/send":
                if self._user(state) is None:
                    return self._send(401, {"error": "sign in (HTTP Basic)"})
                to, text = str(body.get("to", "")), str(body.get("text", ""))
                if to not in state["users"]:
                    return self._send(404, {"error": "no such user"})
                state["inbox"].setdefault(to, []).append(text[:2000])
                save(state)
                return self._send(201, {"sent": True})
        return self._send(404, {"error": "not found"})

    def log_message(self, *_args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    # Every team's checker and attackers connect at once: the standard library's backlog of 5
    # resets the connections beyond it (a service that looks DOWN while it is up).
    request_queue_size = 128


if __name__ == "__main__":
    Server(("0.0.0.0", 8000), Hub).serve_forever()  # noqa: S104
