"""What a page costs in French against the same page in English (issue 16), CPU per request
inside the app (Flask's test client, no sockets), both measured in the same process, rounds
interleaved: the ratio is the price of gettext, locale formatting and content fallback.

Seeds core_api.py's data set (200 teams x 30 challenges x 3000 solves), then times:
``GET /portal/challenges/<slug>`` (a team page: rendered on every request), ``GET /portal/``
(the list, 30 challenges), a board render on a cache miss (``GET /board`` with the cache
cleared: what each language costs once per score change) and an API error (404 in the
request's language). Prints microseconds of CPU per request, English, French, ratio.

    python bench/languages.py [--rounds 7] [--n 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core_api import seeded_app_settings

from range_control.web import create_app

LANGS = {"en": {"Accept-Language": "en"}, "fr": {"Accept-Language": "fr-FR,fr;q=0.9"}}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--n", type=int, default=300, help="requests per round")
    args = ap.parse_args()
    settings, tokens, slugs = seeded_app_settings("range-bench-lang-")
    app = create_app(settings)
    rng = app.extensions["range"]
    clients = {}
    for lang, headers in LANGS.items():
        c = app.test_client()
        c.environ_base["HTTP_ACCEPT_LANGUAGE"] = headers["Accept-Language"]
        form = c.get("/portal/login").get_data(as_text=True)
        csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        r = c.post("/portal/login", data={"token": tokens[0], "csrf_token": csrf})
        assert r.status_code == 302, r.status_code
        clients[lang] = c

    def board(c):  # a cache miss: every language renders once per score change
        rng.cache.pop("web_pages", None)
        c.get("/board")

    cases: dict[str, Callable] = {
        "challenge page": lambda c: c.get(f"/portal/challenges/{slugs[3]}"),
        "challenge list": lambda c: c.get("/portal/"),
        "board render": board,
        "API 404": lambda c: c.get(
            "/api/v1/challenges/nope", headers={"Authorization": f"Bearer {tokens[1]}"}
        ),
    }
    print(f"{'request':16} {'en us':>9} {'fr us':>9} {'fr/en':>6}")
    for name, call in cases.items():
        for c in clients.values():
            for _ in range(30):
                call(c)  # warm-up
        per: dict[str, list[float]] = {lang: [] for lang in clients}
        for _ in range(args.rounds):
            for lang, c in clients.items():  # interleaved: drift hits both alike
                t0 = time.process_time()
                for _ in range(args.n):
                    call(c)
                per[lang].append((time.process_time() - t0) / args.n * 1e6)
        en, fr = statistics.median(per["en"]), statistics.median(per["fr"])
        print(f"{name:16} {en:9.0f} {fr:9.0f} {fr / en:6.2f}")


if __name__ == "__main__":
    main()
