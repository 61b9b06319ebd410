"""The emulator's aiohttp application: Vast's autoscaler and console routes on one port."""

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import autoscaler, console
from .config import EmulatorConfig
from .messages import InputError
from .plane import PLANE, ControlPlane

log = logging.getLogger("emulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(config: EmulatorConfig) -> web.Application:
    app = web.Application(middlewares=[errors_as_json])
    app[PLANE] = ControlPlane.start(config)
    app.add_routes(autoscaler.routes)
    app.add_routes(console.routes)
    app.router.add_get("/_emulator/state", state)
    return app


async def state(request: web.Request) -> web.Response:
    """Everything the emulator knows, for tests and for an operator's curl."""
    plane = request.app[PLANE]
    endpoint = {k: v for k, v in plane.endpoint_record().items() if k != "api_key"}
    return web.json_response({"endpoint": endpoint, **plane.fleet.snapshot()})


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except InputError as error:
        return web.json_response({"error": error.message}, status=error.status)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        headers = {
            name: value
            for name, value in error.headers.items()
            if name.lower() not in ("content-type", "content-length")
        }
        return web.json_response({"error": error.reason}, status=error.status, headers=headers)
    except Exception as error:
        log.error(
            "unexpected error in %s %s: %s: %s",
            request.method,
            request.path,
            type(error).__name__,
            error,
        )
        return web.json_response({"error": "internal error in the emulator"}, status=500)
