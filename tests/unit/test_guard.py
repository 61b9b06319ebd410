"""Every route of the worker's public ports refuses bad input with a 4xx JSON error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.conftest import Rig
from worker.guard import MAX_BODY_BYTES

ROUTES = ["/session/create", "/session/end", "/session/get", "/session/health", "/ping"]


async def post_raw(rig: Rig, path: str, data: bytes, **headers: str) -> tuple[int, Any]:
    response = await rig.worker.post(path, data=data,
                                     headers={"Content-Type": "application/json", **headers})
    body = await response.text()
    return response.status, json.loads(body) if body else None


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("data", [b"", b"not json", b"[1, 2]", b'"text"', b"null", b"\xff\xfe"])
async def test_malformed_bodies_get_4xx_json(rig: Rig, path: str, data: bytes) -> None:
    status, body = await post_raw(rig, path, data)
    assert 400 <= status < 500
    assert "error" in body


@pytest.mark.parametrize("path", ROUTES)
async def test_oversized_body_is_413_and_the_worker_keeps_serving(rig: Rig, path: str) -> None:
    big = b"{" + b" " * (64 * 1024 * 1024) + b"}"
    status, body = await post_raw(rig, path, big)
    assert status == 413
    assert f"at most {MAX_BODY_BYTES}" in body["error"]
    assert (await rig.worker.post("/session/create", json=rig.create_body())).status == 201


@pytest.mark.parametrize(("auth_data", "fragment"), [
    (None, "auth_data must be"),
    ("a string", "auth_data must be"),
    ([], "auth_data must be"),
    ({"cost": 100}, "endpoint is missing"),
    ({"cost": "100", "endpoint": "e", "reqnum": 1, "request_idx": 1, "signature": "s",
      "url": "u"}, "cost must be"),
    ({"cost": float("inf"), "endpoint": "e", "reqnum": 1, "request_idx": 1, "signature": "s",
      "url": "u"}, "cost must be a finite number"),
    ({"cost": 100, "endpoint": "e", "reqnum": True, "request_idx": 1, "signature": "s",
      "url": "u"}, "reqnum must be"),
])
async def test_bad_auth_data_is_422(rig: Rig, auth_data: Any, fragment: str) -> None:
    body = json.dumps({"auth_data": auth_data, "payload": {}}, allow_nan=True).encode()
    status, answer = await post_raw(rig, "/session/create", body)
    assert status == 422
    assert fragment in answer["error"]
    assert rig.hooks.sessions == {}


async def test_unsigned_reservation_is_401_and_holds_nothing(rig: Rig) -> None:
    auth = {**rig.auth(), "signature": "bm90IGEgc2lnbmF0dXJl"}
    response = await rig.worker.post("/session/create",
                                     json={"auth_data": auth, "payload": {"lifetime": 60}})
    assert response.status == 401
    assert "not signed by the autoscaler" in (await response.json())["error"]
    assert rig.hooks.sessions == {}


async def test_signature_for_another_worker_is_401(rig: Rig) -> None:
    # Validly signed by the autoscaler, but for another worker's URL.
    auth = rig.auth(url="http://127.0.0.1:9999")
    response = await rig.worker.post("/session/create", json={"auth_data": auth, "payload": {}})
    assert response.status == 401
    assert "not this worker" in (await response.json())["error"]
    assert rig.hooks.sessions == {}


async def test_url_swapped_under_a_signature_is_401(rig: Rig) -> None:
    auth = rig.auth(url="http://127.0.0.1:9999")
    auth["url"] = "http://127.0.0.1:3000"
    response = await rig.worker.post("/session/create", json={"auth_data": auth, "payload": {}})
    assert response.status == 401
    assert "not signed by the autoscaler" in (await response.json())["error"]


async def test_pyworker_update_is_not_served(rig: Rig) -> None:
    response = await rig.worker.post("/pyworker/update", data=b"")
    assert response.status == 404
    assert "not served by null-worker" in (await response.json())["error"]


async def test_replayed_auth_data_cannot_reserve_again(rig: Rig) -> None:
    body = rig.create_body(request_idx=9)
    assert (await rig.worker.post("/session/create", json=body)).status == 201
    assert (await rig.control.post("/release")).status == 200
    replay = await rig.worker.post("/session/create", json=body)
    assert replay.status == 401
    assert "already made a reservation" in (await replay.json())["error"]


async def test_refused_while_held_may_be_retried(rig: Rig) -> None:
    assert (await rig.worker.post("/session/create", json=rig.create_body(1))).status == 201
    retry = rig.create_body(2)
    assert (await rig.worker.post("/session/create", json=retry)).status == 429
    await rig.control.post("/release")
    assert (await rig.worker.post("/session/create", json=retry)).status == 201


@pytest.mark.parametrize(("lifetime", "fragment"), [
    (1e308, "over this worker's limit of 3600 s"),
    (3601, "over this worker's limit"),
    (0, "at least 1"),
    (0.5, "at least 1"),
    (1e-300, "at least 1"),
    (-5, "at least 1"),
    ("60", "at least 1"),
    (True, "at least 1"),
    (None, "at least 1"),
])
async def test_lifetime_is_bounded(rig: Rig, lifetime: Any, fragment: str) -> None:
    body = {"auth_data": rig.auth(), "payload": {"lifetime": lifetime}}
    response = await rig.worker.post("/session/create", json=body)
    assert response.status == 422
    assert fragment in (await response.json())["error"]
    assert rig.hooks.sessions == {}


@pytest.mark.parametrize(("payload", "fragment"), [
    ([], "payload must be an object"),
    ({"on_close_route": "file:///etc/passwd"}, "on_close_route must be an http(s) URL"),
    ({"on_close_route": 5}, "on_close_route must be"),
    ({"on_close_payload": "x"}, "on_close_payload must be an object"),
    ({"on_close_route": "http://127.0.0.1:18999/release"}, "may not point at this machine"),
    ({"on_close_route": "http://169.254.169.254/latest/"}, "link-local"),
    ({"on_close_route": "http://localhost:3000/"}, "may not point at this machine"),
    ({"on_close_route": "http://[::1]/"}, "may not point at this machine"),
])
async def test_bad_payload_is_422(rig: Rig, payload: Any, fragment: str) -> None:
    response = await rig.worker.post("/session/create",
                                     json={"auth_data": rig.auth(), "payload": payload})
    assert response.status == 422
    assert fragment in (await response.json())["error"]


@pytest.mark.parametrize("path", ["/session/end", "/session/get", "/session/health"])
@pytest.mark.parametrize("body", [{}, {"session_id": 5}, {"session_id": "x"},
                                  {"session_id": "x", "session_auth": "y"}])
async def test_session_routes_check_their_fields(rig: Rig, path: str, body: dict) -> None:
    response = await rig.worker.post(path, json=body)
    assert response.status == 422


async def test_chunked_body_is_411(rig: Rig) -> None:
    async def chunks():
        yield b'{"auth_data": {}, '
        yield b'"payload": {}}'

    response = await rig.worker.post("/session/create", data=chunks())
    assert response.status == 411
