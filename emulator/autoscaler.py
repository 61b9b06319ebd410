"""Routes Vast serves from its autoscaler (run.vast.ai): worker reports and SDK routing."""

from typing import Any

from aiohttp import web

from .fleet import WorkerRecord
from .messages import (
    InputError,
    parse_finished_report,
    parse_route_request,
    parse_worker_status,
    read_json_object,
)
from .plane import PLANE, ControlPlane

routes = web.RouteTableDef()


@routes.get("/pubkey/")
async def public_key(request: web.Request) -> web.Response:
    return web.Response(text=request.app[PLANE].signer.public_key_pem)


@routes.post("/worker_status/")
async def worker_status(request: web.Request) -> web.Response:
    status = parse_worker_status(await read_json_object(request))
    # mtoken is not checked: Vast ties it to the instance, the emulator trusts any reporter.
    request.app[PLANE].fleet.report_status(status)
    return web.json_response({"ok": True})


@routes.post("/delete_requests/")
async def delete_requests(request: web.Request) -> web.Response:
    report = parse_finished_report(await read_json_object(request))
    request.app[PLANE].fleet.report_finished(report)
    return web.json_response({"ok": True})


@routes.post("/route/")
async def route(request: web.Request) -> web.Response:
    plane = request.app[PLANE]
    wanted = parse_route_request(await read_json_object(request))
    plane.authorize(request, wanted.api_key)
    if wanted.endpoint != plane.config.endpoint_name:
        raise InputError(404, f"no endpoint named {wanted.endpoint!r}")

    decision = plane.fleet.route(wanted.request_idx, wanted.cost)
    if decision.url is None:
        return web.json_response({"request_idx": decision.request_idx})
    return web.json_response(
        {
            "cost": wanted.cost,
            "endpoint": plane.config.endpoint_name,
            "reqnum": decision.request_idx,
            "request_idx": decision.request_idx,
            "signature": plane.signer.sign_url(decision.url),
            "url": decision.url,
            "endpoint_id": plane.config.endpoint_id,
        }
    )


@routes.post("/get_endpoint_workers/")
async def endpoint_workers(request: web.Request) -> web.Response:
    plane = request.app[PLANE]
    body = await read_json_object(request)
    api_key = body.get("api_key")
    if api_key is not None and not isinstance(api_key, str):
        raise InputError(400, "api_key must be a string")
    plane.authorize(request, api_key)
    if str(body.get("id")) != str(plane.config.endpoint_id):
        raise InputError(404, f"no endpoint with id {body.get('id')!r}")
    workers = [_describe_worker(plane, record) for record in plane.fleet.workers.values()]
    return web.json_response(workers)


def _describe_worker(plane: ControlPlane, record: WorkerRecord) -> dict[str, Any]:
    """A worker in the shape the SDK's Worker.from_dict reads."""
    status = record.status
    fleet = plane.fleet
    if status.errored:
        state = "error"
    elif not status.loaded:
        state = "loading"
    elif not fleet.is_fresh(record):
        state = "stale"
    elif fleet.queue_time(status.id) > 0:
        state = "busy"
    else:
        state = "idle"
    return {
        "id": status.id,
        "status": state,
        "url": status.url,
        "cur_load": status.cur_load,
        "new_load": status.new_load,
        "cur_perf": status.cur_perf,
        "perf": status.max_perf,
        "measured_perf": status.max_perf,
        "reqs_working": status.num_requests_working,
        "disk_usage": status.disk_usage,
        "loaded_at": record.loaded_at or 0.0,
        "started_at": record.first_seen_at,
        "error_msg": status.error_msg,
    }
