"""The suite's shared fixtures and helpers live in ``tests/support`` and are loaded here as
plugins; test modules import helpers from there, never from each other.

Layout (mirroring the features): ``tests/unit/<feature>`` (pure: no database, no Flask, no
engine), ``tests/integration/<feature>`` (the Flask client on SQLite *and* PostgreSQL),
``tests/system`` (the real Docker engine, the Swarm lab, WireGuard, nginx, processes) and
``tests/browser`` (Chromium, axe-core). Markers choose a subset: ``docker``, ``swarm``,
``browser``, ``postgres``; nothing is skipped, and a missing engine, browser or database fails
loudly.
"""

pytest_plugins = [
    "tests.support.env",
    "tests.support.engine",
    "tests.support.browser",
    "tests.support.live",
    "tests.support.instances",
    "tests.support.wireguard",
    "tests.support.servers",
]


def pytest_collection_modifyitems(items: list) -> None:
    """Markers by what a test needs, so that a subset can be chosen (``-m "not docker"``):
    ``browser`` (Chromium), ``docker`` (the real engine, asked for through the ``client``
    fixture), ``swarm`` (the Swarm lab), ``postgres`` (the PostgreSQL half of ``database_url``).
    A marker chooses; it never skips."""
    import pytest

    for item in items:
        path = str(item.fspath)
        names = getattr(item, "fixturenames", ())
        if "/tests/browser/" in path:
            item.add_marker(pytest.mark.browser)
        if "client" in names or "/tests/browser/" in path and "live" in names:
            item.add_marker(pytest.mark.docker)
        if path.endswith("/tests/system/test_swarm.py"):
            item.add_marker(pytest.mark.swarm)
            item.add_marker(pytest.mark.docker)
        if "[postgres" in item.name:
            item.add_marker(pytest.mark.postgres)
