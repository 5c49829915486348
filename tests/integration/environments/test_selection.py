"""Environments chosen by team and challenge; the host port pool."""

from __future__ import annotations

from tests.support.env import TEST, Env


def test_environment_selection_up_reset_down(env: Env) -> None:
    """The desired state only (the reconciler is tested on the engine): up, reset, down."""
    from range_control.services.environments import instances

    env.team("Alpha", "NL")
    env.team("Bravo", "NO")
    env.challenge(
        "web", environment={"services": [{"name": "box", "image": "range/base:bookworm"}]}
    )
    h = env.admin()
    r = env.client.post("/api/v1/admin/environments/up", json={}, headers=h)
    assert r.status_code == 200 and r.json == {"changed": 2}
    r = env.client.post("/api/v1/admin/environments/reset", json={"team": "Alpha"}, headers=h)
    assert r.json == {"changed": 1}
    gens = {v.team: v.state for v in instances.status(env.ctx)}
    assert gens == {"Alpha": "pending", "Bravo": "pending"}
    r = env.client.post("/api/v1/admin/environments/down", json={"challenge": "nope"}, headers=h)
    assert r.status_code == 404 and "nope" in r.json["error"]["message"]
    r = env.client.post("/api/v1/admin/environments/down", json={"team": "Bravo"}, headers=h)
    assert r.json == {"changed": 1}
    assert [v.team for v in instances.status(env.ctx)] == ["Alpha"]
    paths = env.client.get("/api/v1/openapi.json").json["paths"]
    assert {
        "/api/v1/admin/environments/up",
        "/api/v1/admin/environments/down",
        "/api/v1/admin/environments/reset",
    } <= set(paths)
    r = env.client.post(
        "/api/v1/admin/environments/reset",
        json={},
        headers={"Authorization": "Bearer rct_not_the_organiser"},
    )
    assert r.status_code == 403


def test_port_pool_skips_ports_another_process_listens_on(database_url: str, tmp_path) -> None:
    import random
    import socket

    from range_control.services.environments import instances
    from range_control.services.environments.desired import desired_state
    from range_control.services.environments.ports import bindable
    from tests.support.env import make_env

    # Below Linux's ephemeral ports (32768+): a port the kernel hands out could have a neighbour
    # that this run's own outgoing connections (PostgreSQL's, say) hold.
    port = next(
        p
        for p in random.sample(range(32000, 32700), 700)
        if bindable("127.0.0.1", p) and bindable("127.0.0.1", p + 1)
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        e = make_env(
            database_url, tmp_path, port_range=f"{port}-{port + 1}", publish_ip="127.0.0.1"
        )
        try:
            e.team("Alpha", "NL")
            e.challenge("web", environment={"services": [{"name": "box", "image": "x"}]})
            instances.up(e.ctx, instances.Selection(), TEST)
            desired, _ = desired_state(e.ctx)
            assert [jb.port for jb in desired.jumpboxes.values()] == [port + 1]
        finally:
            e.ctx.store.dispose()
