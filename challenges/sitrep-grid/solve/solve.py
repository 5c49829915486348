"""Solver: decode annex B (base32) of the SITREP; prints the flag with leading zeros dropped
and in lower case, which the regex flag accepts."""

import base64
import re
from pathlib import Path

text = Path("/files/sitrep.txt").read_text()
annex = re.search(r"BASE32\): (\S+)", text).group(1)
grid = base64.b32decode(annex).decode()
print(re.search(r"ICE\{[^}]+\}", grid).group().lower())
