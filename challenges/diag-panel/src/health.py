"""Healthcheck: the service answers on 127.0.0.1:<port>."""

import socket
import sys

socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()
