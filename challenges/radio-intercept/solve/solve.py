"""Solver: known-plaintext attack on the repeating-key XOR (prints the flag)."""

import base64
import itertools
import re
import sys
from pathlib import Path

source = Path(sys.argv[1] if len(sys.argv) > 1 else "/files/intercept.b64")
data = base64.b64decode(source.read_text())
key = bytes(c ^ p for c, p in zip(data[:5], b"FLASH", strict=True))  # the key is five bytes
plain = bytes(c ^ k for c, k in zip(data, itertools.cycle(key), strict=False))
print(re.search(rb"ICE\{[^}]+\}", plain).group().decode())
