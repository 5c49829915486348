#!/usr/bin/env python3
"""The convoy tracker's checker (Hackerdom/ForcAD contract, checklib).

check: the page answers, a convoy can be filed, read back with its PIN and found by callsign.
put:   files a convoy whose orders are the flag; prints the callsign (public attack data) on
       stdout and the convoy's id and PIN (the flag id for get) on stderr (ForcAD's pfr).
get:   reads the convoy back with its PIN: the orders must be the flag.
"""

import json
import sys

import requests
from checklib import BaseChecker, Status, cquit, rnd_string

PORT = 8080


class Checker(BaseChecker):
    vulns = 1
    timeout = 8
    uses_attack_data = True

    def __init__(self, host: str) -> None:
        super().__init__(host)
        self.url = f"http://{host}:{PORT}"

    def action(self, action, *args, **kwargs):
        try:
            super().action(action, *args, **kwargs)
        except requests.exceptions.ConnectionError:
            self.cquit(Status.DOWN, "Connection error", "connection refused or reset")
        except requests.exceptions.Timeout:
            self.cquit(Status.DOWN, "Timeout", "the service did not answer in time")

    def _file(self, orders: str) -> tuple[int, str, str]:
        callsign, pin = rnd_string(10), rnd_string(12)
        r = requests.post(
            f"{self.url}/convoy",
            json={"callsign": callsign, "orders": orders, "pin": pin},
            timeout=self.timeout,
        )
        self.assert_eq(r.status_code, 201, "Cannot file a convoy")
        data = self.get_json(r, "Invalid answer to a new convoy")
        self.assert_in("id", data, "Invalid answer to a new convoy")
        return int(data["id"]), callsign, pin

    def _read(self, convoy: int, pin: str) -> dict:
        r = requests.get(f"{self.url}/convoy/{convoy}", params={"pin": pin}, timeout=self.timeout)
        if r.status_code in (403, 404):
            self.cquit(Status.CORRUPT, "Convoy is gone", f"GET /convoy/{convoy}: {r.status_code}")
        self.assert_eq(r.status_code, 200, "Cannot read a convoy")
        return self.get_json(r, "Invalid convoy")

    def check(self):
        r = requests.get(self.url + "/", timeout=self.timeout)
        self.assert_eq(r.status_code, 200, "Front page is down")
        self.assert_in("Convoy tracker", r.text, "This is not the convoy tracker")
        orders = rnd_string(24)
        convoy, callsign, pin = self._file(orders)
        self.assert_eq(self._read(convoy, pin).get("orders"), orders, "Orders not kept", Status.MUMBLE)
        r = requests.get(f"{self.url}/search", params={"callsign": callsign}, timeout=self.timeout)
        found = [c.get("id") for c in self.get_json(r, "Invalid search")]
        self.assert_in(convoy, found, "Search does not find a convoy")
        self.cquit(Status.OK)

    def put(self, flag_id: str, flag: str, vuln: str):
        convoy, callsign, pin = self._file(flag)
        self.cquit(Status.OK, json.dumps({"callsign": callsign}), json.dumps({"id": convoy, "pin": pin}))

    def get(self, flag_id: str, flag: str, vuln: str):
        try:
            saved = json.loads(flag_id)
            convoy, pin = int(saved["id"]), str(saved["pin"])
        except (ValueError, KeyError, TypeError):
            self.cquit(Status.CORRUPT, "Convoy is gone", f"no convoy in the flag id {flag_id!r}")
        orders = self._read(convoy, pin).get("orders")
        self.assert_eq(orders, flag, "Orders changed", Status.CORRUPT)
        self.cquit(Status.OK)


if __name__ == "__main__":
    checker = Checker(sys.argv[2])
    try:
        checker.action(sys.argv[1], *sys.argv[3:])
    except checker.get_check_finished_exception():
        cquit(Status(checker.status), checker.public, checker.private)
