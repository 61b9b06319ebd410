"""The JSON bodies the framework and the SDK send, checked and turned into dataclasses."""

import json
import math
from dataclasses import dataclass
from typing import Any

from aiohttp import web


class InputError(Exception):
    """Input the emulator refuses; the status is the HTTP status the caller gets."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class WorkerStatus:
    """One `/worker_status/` report, field for field as the framework's WorkerStatusData."""

    id: int
    url: str = ""
    mtoken: str = ""
    version: str = ""
    loadtime: float = 0.0
    cur_load: float = 0.0
    rej_load: float = 0.0
    new_load: float = 0.0
    error_msg: str = ""
    max_perf: float = 0.0
    cur_perf: float = 0.0
    cur_capacity: float = 0.0
    max_capacity: float = 0.0
    num_requests_working: int = 0
    num_requests_recieved: int = 0
    additional_disk_usage: float = 0.0
    disk_usage: float = 0.0
    working_request_idxs: tuple[int, ...] = ()

    @property
    def loaded(self) -> bool:
        return self.loadtime > 0 and self.max_perf > 0

    @property
    def errored(self) -> bool:
        return bool(self.error_msg)


@dataclass(frozen=True)
class FinishedRequest:
    """One entry of a `/delete_requests/` report."""

    request_idx: int
    success: bool = False
    status: str = ""
    entered_queue_at: float = 0.0
    work_started_at: float = 0.0
    work_completed_at: float = 0.0


@dataclass(frozen=True)
class FinishedReport:
    worker_id: int
    requests: tuple[FinishedRequest, ...]


@dataclass(frozen=True)
class RouteRequest:
    """A `/route/` call from the SDK; request_idx 0 asks for a new index."""

    endpoint: str
    cost: float
    request_idx: int = 0
    api_key: str | None = None


_STATUS_NUMBERS = (
    "loadtime",
    "cur_load",
    "rej_load",
    "new_load",
    "max_perf",
    "cur_perf",
    "cur_capacity",
    "max_capacity",
    "additional_disk_usage",
    "disk_usage",
)
_STATUS_COUNTS = ("num_requests_working", "num_requests_recieved")
_STATUS_TEXTS = ("url", "mtoken", "version", "error_msg")
_FINISHED_TIMES = ("entered_queue_at", "work_started_at", "work_completed_at")


async def read_json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(400, "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InputError(400, "body must be a JSON object")
    return body


def parse_worker_status(body: dict[str, Any]) -> WorkerStatus:
    fields: dict[str, Any] = {"id": _integer(body, "id", required=True)}
    for name in _STATUS_NUMBERS:
        fields[name] = _number(body, name)
    for name in _STATUS_COUNTS:
        fields[name] = _integer(body, name)
    for name in _STATUS_TEXTS:
        fields[name] = _text(body, name)
    fields["working_request_idxs"] = _integer_list(body, "working_request_idxs")
    return WorkerStatus(**fields)


def parse_finished_report(body: dict[str, Any]) -> FinishedReport:
    worker_id = _integer(body, "worker_id", required=True)
    entries = body.get("requests")
    if not isinstance(entries, list):
        raise InputError(400, "requests must be a list of finished requests")
    requests = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise InputError(400, "each entry of requests must be a JSON object")
        success = entry.get("success", False)
        if not isinstance(success, bool):
            raise InputError(400, "success must be true or false")
        requests.append(
            FinishedRequest(
                request_idx=_integer(entry, "request_idx", required=True),
                success=success,
                status=_text(entry, "status"),
                **{name: _number(entry, name) for name in _FINISHED_TIMES},
            )
        )
    return FinishedReport(worker_id=worker_id, requests=tuple(requests))


def parse_route_request(body: dict[str, Any]) -> RouteRequest:
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise InputError(400, "endpoint must be the endpoint's name")
    if body.get("cost") is None:
        raise InputError(400, "cost is missing: send the workload of this request")
    cost = _number(body, "cost")
    if cost < 0:
        raise InputError(400, "cost must not be negative")
    request_idx = _integer(body, "request_idx")
    if request_idx < 0:
        raise InputError(400, "request_idx must be 0 (new request) or an index already given")
    api_key = body.get("api_key")
    if api_key is not None and not isinstance(api_key, str):
        raise InputError(400, "api_key must be a string")
    return RouteRequest(endpoint=endpoint, cost=cost, request_idx=request_idx, api_key=api_key)


def _integer(body: dict[str, Any], name: str, required: bool = False) -> int:
    value = body.get(name)
    if value is None:
        if required:
            raise InputError(400, f"{name} is missing")
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(400, f"{name} must be an integer")
    return value


def _number(body: dict[str, Any], name: str) -> float:
    value = body.get(name)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(400, f"{name} must be a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InputError(400, f"{name} must be a finite number")
    return value


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(400, f"{name} must be a string")
    return value


def _integer_list(body: dict[str, Any], name: str) -> tuple[int, ...]:
    value = body.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or any(
        isinstance(item, bool) or not isinstance(item, int) for item in value
    ):
        raise InputError(400, f"{name} must be a list of integers")
    return tuple(value)
