"""Solver: known-plaintext attack on the repeating-key XOR (prints the flag)."""

import base64
import itertools
import re
import sys
from pathlib import Path

data = base64.b64decode(Path(sys.argv[1] if len(sys.argv) > 1 else "files/intercept.b64").read_text())
key = bytes(c ^ p for c, p in zip(data, b"FLASH"))  # five known bytes, and the key is five long
plain = bytes(c ^ k for c, k in zip(data, itertools.cycle(key)))
print(re.search(rb"ICE\{[^}]+\}", plain).group().decode())
