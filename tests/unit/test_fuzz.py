"""Property-based fuzzing of every route on the worker's ports and the control server:
whatever arrives, the answer is never a 5xx and the worker stays consistent."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.conftest import Rig

WORKER_ROUTES = ["/session/create", "/session/end", "/session/get", "/session/health", "/ping"]
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
           | st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                           max_leaves=12)
auth_like = st.fixed_dictionaries({}, optional={
    name: json_values for name in
    ("cost", "endpoint", "reqnum", "request_idx", "signature", "url")})
near_valid = st.fixed_dictionaries({}, optional={
    "auth_data": auth_like | json_values,
    "payload": st.fixed_dictionaries({}, optional={
        "lifetime": json_values, "on_close_route": json_values,
        "on_close_payload": json_values}) | json_values,
    "session_id": json_values,
    "session_auth": auth_like | json_values,
})
bodies = (st.binary(max_size=200)
          | json_values.map(lambda value: json.dumps(value).encode())
          | near_valid.map(lambda value: json.dumps(value).encode()))


async def assert_consistent(rig: Rig) -> None:
    assert len(rig.hooks.sessions) <= 1
    session = await rig.control.get("/session")
    assert session.status in (200, 404)


@FUZZ
@given(path=st.sampled_from(WORKER_ROUTES), body=bodies)
async def test_worker_routes_never_fail_with_5xx(rig: Rig, path: str, body: bytes) -> None:
    response = await rig.worker.post(path, data=body,
                                     headers={"Content-Type": "application/json"})
    assert response.status < 500, (path, body, await response.text())
    await assert_consistent(rig)
    await rig.control.post("/release")


@FUZZ
@given(auth=auth_like, payload=json_values)
async def test_signed_url_with_fuzzed_fields_never_fails(rig: Rig, auth: dict[str, Any],
                                                         payload: Any) -> None:
    body = {"auth_data": {**rig.auth(), **auth}, "payload": payload}
    response = await rig.worker.post("/session/create",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    assert response.status in (201, 401, 422, 429), await response.text()
    await assert_consistent(rig)
    await rig.control.post("/release")


@FUZZ
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
       path=st.sampled_from(["/session", "/session/extend", "/release", "/health", "/ping",
                             "/nothing"]),
       value=st.text(max_size=12) | st.floats().map(str) | st.integers().map(str))
async def test_control_routes_never_fail_with_5xx(rig: Rig, method: str, path: str,
                                                  value: str) -> None:
    # Waits are capped so that a valid long wait does not stall the run.
    params = {"wait": value if not value.replace(".", "").isdigit() else "0.01",
              "seconds": value}
    response = await rig.control.request(method, path, params=params)
    assert response.status < 500, (method, path, value, await response.text())
    await assert_consistent(rig)
