"""The control server on 127.0.0.1: how the consumer beside the worker talks to it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from worker.reservation import ReservationMismatch, Reservations

MAX_WAIT_SECONDS = 3600.0
MAX_BODY_BYTES = 4096
HealthCheck = Callable[[], Awaitable[tuple[bool, str]]]


async def _always_healthy() -> tuple[bool, str]:
    return True, "ok"


def _seconds(raw: str) -> float | None:
    """A number of seconds from 0 to MAX_WAIT_SECONDS, or None."""
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0 <= value <= MAX_WAIT_SECONDS else None


def make_app(reservations: Reservations, health: HealthCheck = _always_healthy) -> web.Application:
    """Routes: POST /release[?id=ID], GET /session[?wait=S], POST /session/extend?seconds=S,
    GET /health, POST /ping."""

    async def release(request: web.Request) -> web.Response:
        try:
            released = await reservations.release(request.query.get("id") or None)
        except ReservationMismatch as mismatch:
            return web.json_response({"released": None, "held": mismatch.held,
                                      "error": str(mismatch)}, status=409)
        if released is None:
            return web.json_response({"released": None, "detail": "no reservation was held"})
        return web.json_response({"released": released})

    async def session(request: web.Request) -> web.Response:
        raw = request.query.get("wait", "0")
        wait = _seconds(raw)
        if wait is None:
            error = f"wait={raw!r} must be a number of seconds from 0 to {MAX_WAIT_SECONDS:g}"
            return web.json_response({"error": error}, status=400)
        held = await reservations.wait(wait) if wait else reservations.current()
        if held is None:
            return web.json_response({"error": "no reservation is held"}, status=404)
        return web.json_response(held.as_json())

    async def extend(request: web.Request) -> web.Response:
        raw = request.query.get("seconds", "")
        seconds = _seconds(raw)
        if seconds is None or seconds == 0:
            error = f"seconds={raw!r} must be more than 0 and at most {MAX_WAIT_SECONDS:g}"
            return web.json_response({"error": error}, status=400)
        held = reservations.extend(seconds)
        if held is None:
            return web.json_response({"error": "no reservation is held"}, status=404)
        return web.json_response(held.as_json())

    async def healthcheck(request: web.Request) -> web.Response:
        healthy, detail = await health()
        return web.json_response({"ok": healthy, "detail": detail}, status=200 if healthy else 503)

    async def ping(request: web.Request) -> web.Response:
        return web.json_response({"pong": True})

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/release", release)
    app.router.add_get("/session", session)
    app.router.add_post("/session/extend", extend)
    app.router.add_get("/health", healthcheck)
    app.router.add_post("/ping", ping)
    return app


async def start(app: web.Application, port: int) -> web.AppRunner:
    """Serve `app` on loopback only: nothing outside the container may release or probe it."""
    # A consumer's open long-poll must not hold up the worker's exit past a second.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, host="127.0.0.1", port=port).start()
    return runner
