"""A toy PLC speaking a line protocol: ``READ <register>``. It answers only the HMI: the
peer address must be the one the team network's DNS gives for ``hmi``."""

import os
import socket
import socketserver

REGISTERS = {"TEMP": "18.5", "PRESSURE": "3.2", "PUMP1": "ON", "PUMP2": "OFF",
             "FLAG": os.environ.get("RANGE_FLAG", "ICE{missing}")}


def hmi_addresses() -> set[str]:
    try:
        return {a[4][0] for a in socket.getaddrinfo("hmi", None)}
    except OSError:
        return set()


class Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        peer = self.client_address[0]
        if peer != "127.0.0.1" and peer not in hmi_addresses():
            self.wfile.write(b"ERR access denied: HMI only\n")
            return
        line = self.rfile.readline(200).decode(errors="replace")
        verb, _, register = line.strip().partition(" ")
        if verb.upper() != "READ":
            self.wfile.write(b"ERR unknown verb\n")
            return
        value = REGISTERS.get(register.strip().upper())
        self.wfile.write((f"OK {value}\n" if value else "ERR no such register\n").encode())


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


Server(("0.0.0.0", 5020), Handler).serve_forever()
