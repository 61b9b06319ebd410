"""What the emulator's handlers share: its config, fleet, keys and the one endpoint it serves."""

import hmac
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .config import EmulatorConfig
from .fleet import Fleet
from .keys import CertificateAuthority, RouteSigner
from .messages import InputError


@dataclass
class ControlPlane:
    config: EmulatorConfig
    fleet: Fleet
    signer: RouteSigner
    authority: CertificateAuthority
    created_at: float = field(default_factory=time.time)

    @classmethod
    def start(cls, config: EmulatorConfig) -> "ControlPlane":
        return cls(
            config=config,
            fleet=Fleet(max_queue_time=config.max_queue_time, stale_after=config.stale_after),
            signer=RouteSigner(),
            authority=CertificateAuthority(config.cert_ips),
        )

    def endpoint_record(self) -> dict[str, Any]:
        """The endpoint as Vast's endptjobs API lists it, with one-reservation-per-worker values."""
        return {
            "id": self.config.endpoint_id,
            "endpoint_name": self.config.endpoint_name,
            "api_key": self.config.api_key,
            "user_id": 1,
            "created_at": self.created_at,
            "endpoint_state": "active",
            "min_load": 0,
            "target_util": 1.0,
            "max_queue_time": self.config.max_queue_time,
            "target_queue_time": 0.5,
            "inactivity_timeout": 10,
            "cold_workers": 0,
            "max_workers": 10,
        }

    def authorize(self, request: web.Request, body_key: str | None = None) -> None:
        """Accept the request only if every api key it carries is the endpoint's key."""
        header = request.headers.get("Authorization", "")
        offered = [
            header.removeprefix("Bearer ").strip() if header else None,
            request.query.get("api_key"),
            body_key,
        ]
        keys = [key for key in offered if key is not None]
        if not keys:
            raise InputError(401, "api key missing: send it as 'Authorization: Bearer <key>'")
        expected = self.config.api_key.encode()
        if not all(hmac.compare_digest(key.encode(), expected) for key in keys):
            raise InputError(401, "wrong api key")


PLANE = web.AppKey("plane", ControlPlane)
