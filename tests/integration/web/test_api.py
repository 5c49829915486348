"""The API as a whole: its OpenAPI document from the models, JSON for unknown routes and methods."""

from __future__ import annotations

from tests.support.env import Env


def test_openapi_document_is_generated_from_the_models(env: Env) -> None:
    doc = env.client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for p in (
        "/api/v1/challenges/{slug}/attempts",
        "/api/v1/scoreboard",
        "/api/v1/admin/teams",
        "/api/v1/hints/{hint_id}/unlock",
        "/api/v1/admin/attempts",
        "/api/v1/scoreboard/ctftime",
    ):
        assert p in paths, p
    post = paths["/api/v1/challenges/{slug}/attempts"]["post"]
    assert {"200", "400", "401", "403", "404", "429"} <= set(post["responses"])
    schemas = doc["components"]["schemas"]
    attempt_in = next(v for k, v in schemas.items() if k.startswith("AttemptIn"))
    assert attempt_in["properties"]["flag"]["maxLength"] == 1024


def test_unknown_route_and_method_are_json(env: Env) -> None:
    r = env.client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.json["error"]["code"] == "not_found"
    r = env.client.delete("/api/v1/scoreboard")
    assert r.status_code == 405 and "error" in r.json
