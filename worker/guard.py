"""Checks on every request to the worker's public ports, before vastai's framework sees it.

The stock framework trusts its port: it creates sessions without checking the autoscaler's
signature, accepts any lifetime, reads unbounded bodies and answers malformed ones with
500. Every route the framework serves is wrapped by `guarded`, which answers bad input
with a 4xx JSON error and passes only well-formed requests on.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

MAX_BODY_BYTES = 16 * 1024
BODY_SECONDS = 10.0
MIN_LIFETIME = 1.0
JSON_NAMES = {"NoneType": "null", "str": "string", "int": "number", "float": "number",
              "bool": "boolean", "list": "array"}
AUTH_FIELDS: dict[str, tuple[type, ...]] = {
    "cost": (int, float),
    "endpoint": (str,),
    "reqnum": (int,),
    "request_idx": (int,),
    "signature": (str,),
    "url": (str,),
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Verifier = Callable[[dict[str, Any]], bool]


class Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def response(self) -> web.Response:
        return web.json_response({"error": str(self)}, status=self.status)


async def read_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, read only when its declared length is within bounds.

    aiohttp keeps the body it read, so the framework's own handler reads the same bytes.
    """
    if request.content_length is None:
        if request.body_exists:
            raise Refusal(411, "send a Content-Length header; chunked bodies are not accepted")
        raise Refusal(400, "the body is empty: send a JSON object")
    if request.content_length > MAX_BODY_BYTES:
        raise Refusal(413, f"the body is {request.content_length} bytes; "
                           f"at most {MAX_BODY_BYTES} are accepted")
    try:
        raw = await asyncio.wait_for(request.read(), BODY_SECONDS)
    except asyncio.TimeoutError:
        raise Refusal(408, f"the body did not arrive within {BODY_SECONDS:g} s") from None
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Refusal(400, "the body is not JSON: send a JSON object") from None
    if not isinstance(body, dict):
        kind = JSON_NAMES.get(type(body).__name__, type(body).__name__)
        raise Refusal(400, f"the body is a JSON {kind}: send a JSON object")
    return body


def _finite_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def check_auth_data(auth: Any) -> dict[str, Any]:
    if not isinstance(auth, dict):
        raise Refusal(422, "auth_data must be the object the autoscaler's /route/ returned")
    problems = []
    for name, kinds in AUTH_FIELDS.items():
        value = auth.get(name)
        if value is None:
            problems.append(f"{name} is missing")
        elif not isinstance(value, kinds) or isinstance(value, bool):
            problems.append(f"{name} must be a {' or '.join(k.__name__ for k in kinds)}")
        elif kinds == (int, float) and not (_finite_number(value) and value >= 0):
            problems.append(f"{name} must be a finite number, zero or more")
    if problems:
        raise Refusal(422, "auth_data: " + "; ".join(problems))
    return auth


def check_lifetime(payload: dict[str, Any], max_lifetime: float) -> None:
    lifetime = payload.get("lifetime", 60.0)
    if not _finite_number(lifetime) or lifetime < MIN_LIFETIME:
        raise Refusal(422, f"payload.lifetime={lifetime!r} must be a number of seconds, "
                           f"at least {MIN_LIFETIME:g}")
    if lifetime > max_lifetime:
        raise Refusal(422, f"payload.lifetime={lifetime!r} is over this worker's limit of "
                           f"{max_lifetime:g} s (NULL_MAX_LIFETIME)")


def _inside(host: str) -> bool:
    """Loopback, link-local (cloud metadata) and unspecified addresses, or localhost."""
    if host.lower().rstrip(".") == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_link_local or address.is_unspecified


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def check_on_close(payload: dict[str, Any]) -> None:
    route = payload.get("on_close_route")
    if route is not None and not (isinstance(route, str)
                                  and route.startswith(("http://", "https://"))):
        raise Refusal(422, "payload.on_close_route must be an http(s) URL or null")
    if route is not None and _inside(urlsplit(route).hostname or ""):
        raise Refusal(422, "payload.on_close_route may not point at this machine or a "
                           "link-local address")
    extra = payload.get("on_close_payload")
    if extra is not None and not isinstance(extra, dict):
        raise Refusal(422, "payload.on_close_payload must be an object or null")


@dataclass
class CreateRules:
    """What a request must satisfy to reserve this worker or to be served by it."""

    verify: Verifier
    max_lifetime: float
    public_url: str
    is_reserved: Callable[[], bool] = lambda: False
    used: set[tuple[int, str]] = field(default_factory=set)

    def authenticate(self, auth: dict[str, Any]) -> None:
        # The autoscaler signs only the URL, so a signature is worth something only if the
        # URL is this worker's own: one signed for another worker must not reserve this one.
        if _origin(auth["url"]) != _origin(self.public_url):
            raise Refusal(401, f"auth_data is for {auth['url']}, not this worker "
                               f"({self.public_url}): route through the autoscaler")
        if not self.verify(auth):
            raise Refusal(401, "auth_data is not signed by the autoscaler: reserve through "
                               "the SDK's endpoint.session(), which routes via Vast")

    def check(self, body: dict[str, Any]) -> None:
        """Bodies of /session/create."""
        auth = check_auth_data(body.get("auth_data"))
        self.authenticate(auth)
        if self._ticket(auth) in self.used:
            raise Refusal(401, "this auth_data already made a reservation: route again")
        payload = body.get("payload", {})
        if not isinstance(payload, dict):
            raise Refusal(422, "payload must be an object, e.g. {\"lifetime\": 300}")
        check_lifetime(payload, self.max_lifetime)
        check_on_close(payload)
        # Answered here rather than by the framework, whose bookkeeping of every refused
        # session grows without bound under contention (vastai 1.9.1).
        if self.is_reserved():
            raise Refusal(429, "this worker already holds a reservation: route again")

    def check_request(self, body: dict[str, Any]) -> None:
        """Bodies of ordinary routes such as /ping."""
        auth = check_auth_data(body.get("auth_data"))
        if not isinstance(body.get("payload"), dict):
            raise Refusal(422, "payload must be an object")
        session_id = body.get("session_id")
        if session_id is not None and not isinstance(session_id, str):
            raise Refusal(422, "session_id must be a string or null")
        self.authenticate(auth)

    def remember(self, auth: dict[str, Any]) -> None:
        """Called once a reservation is made: its auth_data cannot make another."""
        self.used.add(self._ticket(auth))

    @staticmethod
    def _ticket(auth: dict[str, Any]) -> tuple[int, str]:
        return auth["reqnum"], auth["signature"]


def check_session_ref(body: dict[str, Any]) -> None:
    """Bodies of /session/end, /session/get and /session/health."""
    if not isinstance(body.get("session_id"), str) or not body["session_id"]:
        raise Refusal(422, "session_id must be the id /session/create returned")
    if not isinstance(body.get("session_auth"), dict):
        raise Refusal(422, "session_auth must be the auth_data the session was created with")


async def not_here(request: web.Request) -> web.Response:
    """Routes the framework serves that this image does not: the answer is always 404."""
    return web.json_response({"error": f"{request.path} is not served by null-worker: "
                                       "update the image to update the worker"}, status=404)


def guarded(handler: Handler, check: Callable[[dict[str, Any]], None]) -> Handler:
    async def guard(request: web.Request) -> web.StreamResponse:
        try:
            check(await read_object(request))
        except Refusal as refusal:
            return refusal.response()
        return await handler(request)

    return guard
