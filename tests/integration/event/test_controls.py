"""The event's controls and configuration through the API."""

from __future__ import annotations

from tests.support.env import Env


def test_event_control_and_configuration(env: Env) -> None:
    h = env.admin()
    r = env.client.patch(
        "/api/v1/admin/event",
        json={
            "name": "ICE 2026",
            "starts_at": "2026-07-01T08:00:00Z",
            "ends_at": "2026-07-03T16:00:00Z",
            "freeze_at": "2026-07-03T15:00:00Z",
            "first_blood_bonus": 10,
        },
        headers=h,
    )
    assert (
        r.status_code == 200 and r.json["name"] == "ICE 2026" and r.json["first_blood_bonus"] == 10
    )
    bad = env.client.patch(
        "/api/v1/admin/event", json={"freeze_at": "2026-08-01T00:00:00Z"}, headers=h
    )
    assert bad.status_code == 400 and "freeze_at" in bad.json["error"]["message"]
    naive = env.client.patch(
        "/api/v1/admin/event", json={"ends_at": "2026-07-03T16:00:00"}, headers=h
    )
    assert naive.status_code == 400 and "ends_at" in naive.json["error"]["message"]
    assert env.client.post("/api/v1/admin/event/start", headers=h).json["state"] == "running"
    assert env.client.post("/api/v1/admin/event/start", headers=h).status_code == 409
    assert env.client.post("/api/v1/admin/event/stop", headers=h).json["state"] == "ended"
    assert env.client.post("/api/v1/admin/event/stop", headers=h).status_code == 409
