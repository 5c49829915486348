"""What the tests share, loaded as pytest plugins (``tests/conftest.py``): ranges, people, the
engine, browsers, servers, the Swarm lab. Test modules import from here, never from each other."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
