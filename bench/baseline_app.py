"""Baseline for the benchmarks: the cheapest Flask JSON endpoint, under the same gunicorn.

It returns a pre-built JSON body of ``BENCH_BODY_BYTES`` bytes, so it moves the same bytes as
the endpoint it is compared with and measures only what Flask + gunicorn cost on this machine.
"""

import os

from flask import Flask, Response

app = Flask(__name__)
_size = int(os.environ.get("BENCH_BODY_BYTES", "2"))
_body = ('{"pad":"' + "x" * max(_size - 10, 0) + '"}').encode()


@app.get("/")
def index() -> Response:
    return Response(_body, mimetype="application/json")


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
