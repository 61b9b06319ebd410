"""The real vastai client SDK against `python -m emulator` running on loopback."""

import base64
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from emulator_process import EmulatorProcess
from emulator_samples import API_KEY, WORKER_URL, worker_status
from vastai.serverless.client.client import Serverless

ServerFactory = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def sdk_client(emulator_process: EmulatorProcess) -> AsyncIterator[Serverless]:
    base = emulator_process.url
    client = Serverless(API_KEY, instance="local", autoscaler_url=base, webserver_url=base)
    client.SSL_CERT_URL = f"{base}/static/jvastai_root.cer"
    async with client:
        yield client


async def post_status(base: str, **changes: object) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base}/worker_status/", json=worker_status(**changes)) as response,
    ):
        assert response.status == 200


async def test_sdk_waits_then_gets_a_signed_route(
    emulator_process: EmulatorProcess, sdk_client: Serverless
) -> None:
    endpoint = await sdk_client.get_endpoint("null-demo")
    assert endpoint.id == 1

    waiting = await endpoint._route(cost=100)
    assert (waiting.status, waiting.request_idx) == ("WAITING", 1)
    emulator_process.wait_for_log("request 1 waiting: no free worker")

    await post_status(emulator_process.url)
    emulator_process.wait_for_log(f"worker 7 ready: max_perf 100 at {WORKER_URL}")
    ready = await endpoint._route(cost=100, req_idx=waiting.request_idx)
    assert (ready.status, ready.request_idx, ready.get_url()) == ("READY", 1, WORKER_URL)
    emulator_process.wait_for_log("request 1 routed to worker 7")

    session = await sdk_client._get_session()
    async with session.get(f"{emulator_process.url}/pubkey/") as response:
        public_key = RSA.import_key(await response.text())
    message = json.dumps({"url": ready.body["url"]}, indent=4, sort_keys=True)
    signature = base64.b64decode(ready.body["signature"])
    pkcs1_15.new(public_key).verify(SHA256.new(message.encode()), signature)

    held = await endpoint._route(cost=100)
    assert (held.status, held.request_idx) == ("WAITING", 2)
    [worker] = await endpoint.get_workers()
    assert (worker.id, worker.status, worker.perf) == (7, "busy", 100)

    await endpoint.refresh(block=True)
    assert endpoint.data.config.max_queue_time == 1.0


async def test_sdk_trusts_a_worker_certificate_signed_by_the_emulator(
    emulator_process: EmulatorProcess,
    sdk_client: Serverless,
    aiohttp_server: ServerFactory,
    tmp_path: Path,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pyworker.vast.ai")]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{emulator_process.url}/api/v0/sign_cert/?instance_id=7",
            data=csr,
            headers={"Content-Type": "application/octet-stream"},
        ) as response,
    ):
        assert response.status == 200
        (tmp_path / "instance.crt").write_bytes(await response.read())
    (tmp_path / "instance.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    emulator_process.wait_for_log("signed certificate for instance 7 (127.0.0.1)")

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello from a worker")

    app = web.Application()
    app.router.add_get("/", hello)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "instance.crt", tmp_path / "instance.key")
    worker = await aiohttp_server(app, host="127.0.0.1", ssl=context)

    session = await sdk_client._get_session()
    async with session.get(f"https://127.0.0.1:{worker.port}/") as response:
        assert await response.text() == "hello from a worker"
