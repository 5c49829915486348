"""The message hub's checker, speaking EnoEngine's checker API v2 as published:

* ``GET /service``: ``{serviceName, flagVariants, noiseVariants, havocVariants, exploitVariants}``;
* ``POST /`` with a CheckerTaskMessage (``method``: putflag, getflag, putnoise, getnoise,
  havoc; ``address``, ``flag``, ``variantId``, ``taskChainId``, ``timeout``...), answered
  ``{result: OK|MUMBLE|OFFLINE|INTERNAL_ERROR, message, attackInfo, flag}``.

putflag registers a fresh officer and sends them the flag; the officer's name is the public
attack info, the credentials are kept per task chain (in /state, not in MongoDB); getflag signs
in as that officer and looks for the flag. A connection refused is OFFLINE; a wrong answer is
MUMBLE (the Eno contract has no CORRUPT: a lost flag is MUMBLE)."""

import base64
import json
import os
import secrets
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("CHECKER_PORT", "8000"))
STATE = os.environ.get("CHECKER_STATE", "/state")
LOCK = threading.Lock()
SERVICE = {
    "serviceName": "message-hub",
    "flagVariants": 1,
    "noiseVariants": 1,
    "havocVariants": 1,
    "exploitVariants": 1,
}


class Mumble(Exception):
    pass


class Offline(Exception):
    pass


def _path(chain: str) -> str:
    safe = "".join(c for c in chain if c.isalnum() or c in "_-")[:120]
    return os.path.join(STATE, f"{safe}.json")


def remember(chain: str, data: dict) -> None:
    with LOCK, open(_path(chain), "w") as fh:
        json.dump(data, fh)


def recall(chain: str) -> dict:
    try:
        with LOCK, open(_path(chain)) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        raise Mumble("no such task chain: putflag or putnoise first") from None


def call(task: dict, method: str, path: str, body: dict | None = None, auth=None) -> dict:
    url = f"http://{task['address']}:8000{path}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    timeout = max(1.0, task.get("timeout", 10000) / 1000 - 1)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise Mumble(f"{method} {path}: HTTP {exc.code}") from None
    except (ConnectionError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, (ConnectionError, OSError)) and not isinstance(reason, TimeoutError):
            raise Offline(f"cannot connect: {reason}") from None
        raise Mumble(f"{method} {path}: {reason}") from None
    except TimeoutError:
        raise Mumble(f"{method} {path}: timed out") from None
    except ValueError:
        raise Mumble(f"{method} {path}: not JSON") from None


def new_officer(task: dict) -> tuple[str, str]:
    user, password = "off-" + secrets.token_hex(6), secrets.token_urlsafe(12)
    call(task, "POST", "/register", {"user": user, "password": password})
    return user, password


def put(task: dict, text: str) -> str:
    user, password = new_officer(task)
    call(task, "POST", "/send", {"to": user, "text": text}, (user, password))
    remember(task["taskChainId"], {"user": user, "password": password, "text": text})
    return user


def get(task: dict, text: str) -> None:
    saved = recall(task["taskChainId"])
    inbox = call(task, "GET", "/inbox", auth=(saved["user"], saved["password"]))
    if text not in (inbox.get("messages") or []):
        raise Mumble("the message is gone")


def run(task: dict) -> dict:
    method = task.get("method")
    if method == "putflag":
        return {"result": "OK", "message": None, "attackInfo": put(task, task["flag"])}
    if method == "getflag":
        get(task, task["flag"])
    elif method == "putnoise":
        put(task, "Routine: " + secrets.token_hex(8))
    elif method == "getnoise":
        get(task, recall(task["taskChainId"])["text"])
    elif method == "havoc":
        front = call(task, "GET", "/")
        if "message hub" not in str(front.get("service", "")):
            raise Mumble("this is not the message hub")
    else:
        return {"result": "INTERNAL_ERROR", "message": f"unknown method {method!r}"}
    return {"result": "OK", "message": None}


class Api(BaseHTTPRequestHandler):
    def _send(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/service":
            return self._send(SERVICE)
        self.send_error(404)

    def do_POST(self) -> None:  # noqa: N802
        length = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
        try:
            task = json.loads(self.rfile.read(length))
            answer = run(task)
        except Offline as exc:
            answer = {"result": "OFFLINE", "message": str(exc)}
        except Mumble as exc:
            answer = {"result": "MUMBLE", "message": str(exc)}
        except Exception as exc:  # noqa: BLE001 - the checker's own bug: an internal error
            answer = {"result": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}"}
        answer.setdefault("attackInfo", None)
        answer.setdefault("flag", None)
        self._send(answer)

    def log_message(self, *_args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    # The engine sends a check per team at once (the conformance gate: 16): the standard
    # library's backlog of 5 resets the connections beyond it.
    request_queue_size = 128


if __name__ == "__main__":
    os.makedirs(STATE, exist_ok=True)
    Server(("0.0.0.0", PORT), Api).serve_forever()  # noqa: S104
