"""The reservation lifecycle on a real framework Backend, served in-process."""

import asyncio
import json

import pytest

from tests.unit.conftest import Rig


async def eventually(predicate, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_nothing_held_at_start(rig: Rig) -> None:
    response = await rig.control.get("/session")
    assert response.status == 404
    released = await rig.control.post("/release")
    assert released.status == 200
    assert (await released.json())["released"] is None


async def test_reserve_then_consumer_release_reaches_autoscaler(rig: Rig) -> None:
    created = await rig.worker.post("/session/create", json=rig.create_body(request_idx=5))
    assert created.status == 201
    session_id = (await created.json())["session_id"]

    held = await (await rig.control.get("/session")).json()
    assert held["id"] == session_id
    assert held["expires"] - held["created"] == pytest.approx(60, abs=1)

    second = await rig.worker.post("/session/create", json=rig.create_body(request_idx=6))
    assert second.status == 429

    released = await rig.control.post("/release")
    assert await released.json() == {"released": session_id}
    assert (await rig.control.get("/session")).status == 404
    async def autoscaler_heard() -> bool:
        state = await rig.state()
        finished = any(r["request_idx"] == 5 for r in state["finished_requests"])
        return finished and bool(state["workers"]) and state["workers"][0]["cur_load"] == 0

    await eventually(autoscaler_heard)

    # The SDK's own close after the consumer released: the framework answers 400, not found.
    late = await rig.worker.post("/session/end", json={"session_id": session_id,
                                                       "session_auth": rig.auth(5)})
    assert late.status == 400


async def test_wait_returns_when_reserved(rig: Rig) -> None:
    waiting = asyncio.ensure_future(rig.control.get("/session", params={"wait": "5"}))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    created = await rig.worker.post("/session/create", json=rig.create_body())
    response = await asyncio.wait_for(waiting, 2)
    assert response.status == 200
    assert (await response.json())["id"] == (await created.json())["session_id"]


async def test_wait_times_out_with_404(rig: Rig) -> None:
    response = await rig.control.get("/session", params={"wait": "0.3"})
    assert response.status == 404


@pytest.mark.parametrize("wait", ["-1", "abc", "nan", "inf", "1e9"])
async def test_bad_wait_is_400(rig: Rig, wait: str) -> None:
    response = await rig.control.get("/session", params={"wait": wait})
    assert response.status == 400
    assert "must be a number of seconds" in (await response.json())["error"]


async def test_expiry_is_logged_and_frees_the_worker(rig: Rig, caplog) -> None:
    created = await rig.worker.post("/session/create", json=rig.create_body(lifetime=1))
    session_id = (await created.json())["session_id"]
    await asyncio.sleep(1.05)
    # What the framework's session collector does every 5 s, done now.
    assert await rig.hooks.backend._Backend__close_session(session_id)
    assert (await rig.control.get("/session")).status == 404
    assert any("expired: session " + session_id in r.getMessage() for r in caplog.records)


async def test_client_end_is_logged(rig: Rig, caplog) -> None:
    body = rig.create_body()
    created = await rig.worker.post("/session/create", json=body)
    session_id = (await created.json())["session_id"]
    ended = await rig.worker.post("/session/end", json={"session_id": session_id,
                                                        "session_auth": body["auth_data"]})
    assert ended.status == 200
    assert any(f"released: session {session_id} by the client" in r.getMessage()
               for r in caplog.records)


async def test_ping_and_health(rig: Rig) -> None:
    assert (await rig.control.post("/ping")).status == 200
    health = await rig.control.get("/health")
    assert health.status == 200
    assert json.loads(await health.text())["ok"] is True


async def test_extend_keeps_a_long_job_reserved(rig: Rig) -> None:
    assert (await rig.control.post("/session/extend", params={"seconds": "60"})).status == 404
    await rig.worker.post("/session/create", json=rig.create_body(lifetime=5))
    extended = await rig.control.post("/session/extend", params={"seconds": "600"})
    assert extended.status == 200
    assert (await extended.json())["remaining"] == pytest.approx(600, abs=2)
    held = await (await rig.control.get("/session")).json()
    assert held["remaining"] == pytest.approx(600, abs=2)


@pytest.mark.parametrize("seconds", ["", "0", "-3", "abc", "nan", "1e9"])
async def test_extend_rejects_bad_seconds(rig: Rig, seconds: str) -> None:
    response = await rig.control.post("/session/extend", params={"seconds": seconds})
    assert response.status == 400


async def test_release_by_id_ends_only_that_reservation(rig: Rig) -> None:
    first = await (await rig.worker.post("/session/create", json=rig.create_body(1))).json()
    other = await rig.control.post("/release", params={"id": "not-this-one"})
    assert other.status == 409
    assert (await other.json())["held"] == first["session_id"]
    assert (await rig.control.get("/session")).status == 200
    own = await rig.control.post("/release", params={"id": first["session_id"]})
    assert await own.json() == {"released": first["session_id"]}
    again = await rig.control.post("/release", params={"id": first["session_id"]})
    assert (await again.json())["released"] is None


async def test_extend_never_shortens(rig: Rig) -> None:
    await rig.worker.post("/session/create", json=rig.create_body(lifetime=600))
    extended = await rig.control.post("/session/extend", params={"seconds": "1"})
    assert (await extended.json())["remaining"] == pytest.approx(600, abs=2)


async def test_an_expired_reservation_is_not_handed_out(rig: Rig) -> None:
    await rig.worker.post("/session/create", json=rig.create_body(lifetime=1))
    assert (await rig.control.get("/session")).status == 200
    await asyncio.sleep(1.1)
    # Before the framework's collector (every 5 s) has ended it.
    assert len(rig.hooks.sessions) == 1
    assert (await rig.control.get("/session")).status == 404
