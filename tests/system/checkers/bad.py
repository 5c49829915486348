"""A checker that misbehaves on purpose (the first argument says how), in the exit-code
contract unless the mode is an HTTP one:

hang     never answers (the range kills it at the timeout)
crash    raises (a traceback, exit code 1)
spam     prints megabytes, then says OK
odd      exits 42 (outside the contract)
listen   (the first team's copy) listens on port 9999 for 25 s (can a team connect to the checker?): OK when the first
         connection came from its own loopback, CORRUPT from anywhere else, MUMBLE for none
probe TARGETS   tries to connect to each ``host:port`` of TARGETS (comma-separated: the
         control plane, the host) and says what happened: DOWN when nothing was reached
http-garbage   an EnoEngine checker API that answers HTML to every task
"""

import http.server
import socket
import sys
import time

mode = sys.argv[1]
if mode == "http-garbage":

    class Garbage(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>not what the contract says</html>")

        def do_GET(self):
            self.do_POST()

    http.server.HTTPServer(("0.0.0.0", 8000), Garbage).serve_forever()  # noqa: S104
targets = sys.argv.pop(2) if mode == "probe" else ""
action = sys.argv[2] if len(sys.argv) > 2 else "check"
if mode == "hang":
    time.sleep(3600)
if mode == "crash":
    raise RuntimeError("the checker's own bug")
if mode == "spam":
    chunk = "A" * 65536
    for _ in range(64):  # 4 MiB on each stream
        sys.stdout.write(chunk)
        sys.stderr.write(chunk)
    sys.exit(101)
if mode == "odd":
    print("whatever")
    sys.exit(42)
if mode == "listen" and action == "check" and "-t1-" in sys.argv[3]:  # the first team's only
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 9999))  # noqa: S104
    srv.listen()
    srv.settimeout(25)
    try:
        conn, peer = srv.accept()
    except TimeoutError:
        print("nobody connected")
        sys.exit(103)
    print(f"a connection came in from {peer[0]}")
    sys.exit(101 if peer[0] == "127.0.0.1" else 102)  # only the test's own, from inside
if mode == "probe" and action == "check":
    said = []
    for target in targets.split(","):
        if not target:
            continue
        host, port = target.rsplit(":", 1)
        try:
            with socket.create_connection((host, int(port)), timeout=3):
                said.append(f"{target} reached")
        except OSError as exc:
            said.append(f"{target} not reached ({exc.__class__.__name__})")
    print("; ".join(said))
    # Its verdict carries the message: DOWN when nothing was reached, CORRUPT when anything was.
    sys.exit(102 if any(x.endswith(" reached") for x in said) else 104)
sys.exit(101)
