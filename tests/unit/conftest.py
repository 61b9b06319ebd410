"""An in-process worker: vastai's real Backend behind null-worker's hooks and guard, the
control server, and the real emulator as its autoscaler, all served by aiohttp's test
servers with no subprocess."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from emulator.app import make_app as make_emulator
from emulator.config import EmulatorConfig
from emulator.plane import PLANE
from worker import config, control
from worker.framework import Hooks, build_worker
from worker.guard import CreateRules
from worker.reservation import Reservations

WORKER_URL = "http://127.0.0.1:3000"


@dataclass
class Rig:
    worker: TestClient
    control: TestClient
    autoscaler: TestClient
    hooks: Hooks
    emulator: web.Application

    def auth(self, request_idx: int = 1, url: str = WORKER_URL) -> dict[str, Any]:
        """auth_data as the emulator's /route/ signs it."""
        signature = self.emulator[PLANE].signer.sign_url(url)
        return {"cost": 100, "endpoint": "null-demo", "reqnum": request_idx,
                "request_idx": request_idx, "signature": signature, "url": url}

    def create_body(self, request_idx: int = 1, lifetime: float = 60) -> dict[str, Any]:
        return {"auth_data": self.auth(request_idx), "payload": {"lifetime": lifetime}}

    async def state(self) -> dict[str, Any]:
        return await (await self.autoscaler.get("/_emulator/state")).json()


@pytest.fixture
async def rig(aiohttp_client, monkeypatch, tmp_path) -> AsyncIterator[Rig]:
    emulator = make_emulator(EmulatorConfig())
    autoscaler = await aiohttp_client(emulator)
    env = {"CONTAINER_ID": "7", "PUBLIC_IPADDR": "127.0.0.1", "VAST_TCP_PORT_3000": "3000",
           "USE_SSL": "false", "REPORT_ADDR": str(autoscaler.make_url("")).rstrip("/"),
           "NULL_MAX_LIFETIME": "3600"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    settings = config.load()
    config.export_for_framework(settings, os.environ)

    worker = build_worker(settings)
    backend = worker.backend
    await backend._fetch_pubkey()
    hooks = Hooks(backend)
    rules = CreateRules(verify=hooks.verify_signature, max_lifetime=settings.max_lifetime,
                        public_url=settings.public_url, is_reserved=lambda: bool(hooks.sessions))
    hooks.guard_routes(worker, rules)
    hooks.on_reserved.append(lambda session: rules.remember(session.auth_data))
    reservations = Reservations(hooks, settings.max_lifetime)

    framework = web.Application()
    framework.router.add_post("/session/create", backend.session_create_handler)
    framework.router.add_post("/session/end", backend.session_end_handler)
    framework.router.add_post("/session/get", backend.session_get_handler)
    framework.router.add_post("/session/health", backend.session_health_handler)
    framework.router.add_post("/pyworker/update", backend.pyworker_update_handler)
    framework.add_routes(worker.routes)
    yield Rig(await aiohttp_client(framework),
              await aiohttp_client(control.make_app(reservations)),
              autoscaler, hooks, emulator)
    await hooks.shutdown()
