"""CPU time of one request inside the app, no sockets: to compare two commits (issue 14: what the
metrics instrumentation costs) without the noise of a load test on a shared machine.

Seeds core_api.py's data set, then times, through Flask's test client in one process,
``GET /api/v1/scoreboard`` (cached: the cost around the cache is what is left) and wrong flag
attempts (spread over teams and challenges), the median of several rounds of process CPU time
per request. Run it from each tree in turn, e.g. with a git worktree of the older commit:

    RANGE_METRICS_DIR=$(mktemp -d) PYTHONPATH=/tmp/old python /tmp/old/bench/request_cost.py
    RANGE_METRICS_DIR=$(mktemp -d) python bench/request_cost.py
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core_api import seeded_app_settings

from range_control.web import create_app


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--n", type=int, default=1500, help="requests per round")
    args = ap.parse_args()
    settings, tokens, slugs = seeded_app_settings("range-bench-cost-")
    client = create_app(settings).test_client()
    random.seed(7)
    heads = [{"Authorization": f"Bearer {t}"} for t in tokens]

    def board() -> None:
        client.get("/api/v1/scoreboard")

    def attempt() -> None:
        client.post(
            f"/api/v1/challenges/{random.choice(slugs)}/attempts",
            json={"flag": "ICE{wrong}"},
            headers=random.choice(heads),
        )

    for name, call in (("scoreboard", board), ("attempt", attempt)):
        for _ in range(200):
            call()  # warm-up
        rounds = []
        for _ in range(args.rounds):
            t0 = time.process_time()
            for _ in range(args.n):
                call()
            rounds.append((time.process_time() - t0) / args.n * 1e6)
        print(
            f"{name:12} {statistics.median(rounds):8.1f} us CPU per request "
            f"(rounds: {', '.join(f'{r:.0f}' for r in rounds)})"
        )


if __name__ == "__main__":
    main()
