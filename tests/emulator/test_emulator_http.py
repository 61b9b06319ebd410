import base64
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from emulator_samples import API_KEY, WORKER_URL, route_body, worker_status
from vastai.data.endpoint import EndpointData
from vastai.serverless.client.worker import Worker

from emulator.app import make_app
from emulator.config import EmulatorConfig

ClientFactory = Callable[..., Awaitable[TestClient]]
BEARER = {"Authorization": f"Bearer {API_KEY}"}


async def post_json(client: TestClient, path: str, body: Any, **kwargs: Any) -> Any:
    response = await client.post(path, json=body, **kwargs)
    return response.status, await response.json()


async def assert_json_error(response: Any, status: int, text: str) -> None:
    assert response.status == status
    assert response.content_type == "application/json"
    assert text in (await response.json())["error"]


async def test_pubkey_is_what_the_framework_imports(emulator_client: TestClient) -> None:
    response = await emulator_client.get("/pubkey/")
    assert response.status == 200
    assert RSA.import_key(await response.text()).size_in_bits() == 2048


async def test_route_waits_then_routes_to_a_reported_worker(emulator_client: TestClient) -> None:
    assert await post_json(emulator_client, "/route/", route_body()) == (200, {"request_idx": 1})
    assert await post_json(emulator_client, "/worker_status/", worker_status()) == (
        200,
        {"ok": True},
    )

    status, auth_data = await post_json(emulator_client, "/route/", route_body(request_idx=1))
    assert status == 200
    signature = auth_data.pop("signature")
    assert auth_data == {
        "cost": 100,
        "endpoint": "null-demo",
        "reqnum": 1,
        "request_idx": 1,
        "url": WORKER_URL,
        "endpoint_id": 1,
    }
    public_key = RSA.import_key(await (await emulator_client.get("/pubkey/")).text())
    message = json.dumps({"url": WORKER_URL}, indent=4, sort_keys=True).encode()
    pkcs1_15.new(public_key).verify(SHA256.new(message), base64.b64decode(signature))

    assert await post_json(emulator_client, "/route/", route_body()) == (200, {"request_idx": 2})


async def test_finished_requests_and_state(emulator_client: TestClient) -> None:
    await post_json(emulator_client, "/worker_status/", worker_status())
    await post_json(emulator_client, "/route/", route_body())
    report = {
        "worker_id": 7,
        "mtoken": "",
        "requests": [
            {
                "request_idx": 1,
                "success": True,
                "status": "Success",
                "entered_queue_at": 10.0,
                "work_started_at": 10.0,
                "work_completed_at": 12.0,
            }
        ],
    }
    assert await post_json(emulator_client, "/delete_requests/", report) == (200, {"ok": True})

    state = await (await emulator_client.get("/_emulator/state")).json()
    assert state["endpoint"]["endpoint_name"] == "null-demo"
    assert "api_key" not in state["endpoint"]
    [worker] = state["workers"]
    assert worker["id"] == 7 and worker["url"] == WORKER_URL and worker["loaded"] is True
    assert state["pending_routes"] == []
    [finished] = state["finished_requests"]
    assert (finished["worker_id"], finished["request_idx"], finished["status"]) == (7, 1, "Success")
    assert finished["success"] is True and finished["received_at"] > 0
    assert [(r["request_idx"], r["worker_id"]) for r in state["routes"]] == [(1, 7)]


async def test_endpoint_listing_reads_as_the_sdk_expects(emulator_client: TestClient) -> None:
    for kwargs in ({"headers": BEARER}, {"params": {"api_key": API_KEY, "client_id": "me"}}):
        response = await emulator_client.get("/api/v0/endptjobs/", **kwargs)
        assert response.status == 200
        body = await response.json()
        assert body["success"] is True
        endpoint = EndpointData.from_dict(body["results"][0])
        assert (endpoint.id, endpoint.api_key) == (1, API_KEY)
        assert endpoint.config.endpoint_name == "null-demo"
        assert (endpoint.config.max_queue_time, endpoint.config.target_queue_time) == (1.0, 0.5)
        assert (endpoint.config.target_util, endpoint.config.min_load) == (1.0, 0)

    response = await emulator_client.get("/api/v0/endptjobs/1/", headers=BEARER)
    body = await response.json()
    assert EndpointData.from_dict(body["result"]).config.inactivity_timeout == 10


async def test_endpoint_workers_read_as_the_sdk_expects(emulator_client: TestClient) -> None:
    await post_json(emulator_client, "/worker_status/", worker_status(7))
    await post_json(emulator_client, "/worker_status/", worker_status(8, loadtime=0, max_perf=0))
    await post_json(emulator_client, "/worker_status/", worker_status(9, error_msg="boom"))
    await post_json(emulator_client, "/route/", route_body())

    status, listed = await post_json(
        emulator_client, "/get_endpoint_workers/", {"id": 1, "api_key": API_KEY}
    )
    assert status == 200
    workers = {worker.id: worker for worker in map(Worker.from_dict, listed)}
    assert {id_: worker.status for id_, worker in workers.items()} == {
        7: "busy",
        8: "loading",
        9: "error",
    }
    assert workers[7].perf == 100 and workers[7].loaded_at > 0 and workers[8].loaded_at == 0


async def test_certificates_from_the_console_routes(emulator_client: TestClient) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pyworker.vast.ai")]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    response = await emulator_client.post(
        "/api/v0/sign_cert/?instance_id=12",
        data=csr,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status == 200
    certificate = x509.load_pem_x509_certificate(await response.read())

    root_response = await emulator_client.get("/static/jvastai_root.cer")
    root = x509.load_pem_x509_certificate(await root_response.read())
    certificate.verify_directly_issued_by(root)


async def test_operator_sees_one_line_per_event(
    emulator_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(3):
        await post_json(emulator_client, "/worker_status/", worker_status())
    assert [r.getMessage() for r in caplog.records if r.name == "emulator"] == [
        f"worker 7 first seen at {WORKER_URL}",
        f"worker 7 ready: max_perf 100 at {WORKER_URL}",
    ]


@pytest.mark.parametrize(
    ("path", "body", "text"),
    [
        ("/worker_status/", "{not json", "not valid JSON"),
        ("/worker_status/", "[1, 2]", "must be a JSON object"),
        ("/worker_status/", json.dumps(worker_status(id=None)), "id is missing"),
        ("/worker_status/", json.dumps(worker_status(id="7")), "id must be an integer"),
        ("/worker_status/", json.dumps(worker_status(id=True)), "id must be an integer"),
        ("/worker_status/", json.dumps(worker_status(max_perf="100")), "max_perf must be a"),
        ("/worker_status/", '{"id": 7, "max_perf": NaN}', "max_perf must be a finite"),
        ("/worker_status/", '{"id": 7, "cur_load": 1e999}', "cur_load must be a finite"),
        ("/worker_status/", json.dumps(worker_status(cur_load=10**400)), "must be a finite"),
        ("/worker_status/", json.dumps(worker_status(url=3000)), "url must be a string"),
        (
            "/worker_status/",
            json.dumps(worker_status(working_request_idxs=[1, "2"])),
            "working_request_idxs must be a list of integers",
        ),
        ("/delete_requests/", '{"requests": []}', "worker_id is missing"),
        ("/delete_requests/", '{"worker_id": 7}', "requests must be a list"),
        ("/delete_requests/", '{"worker_id": 7, "requests": [3]}', "must be a JSON object"),
        ("/delete_requests/", '{"worker_id": 7, "requests": [{}]}', "request_idx is missing"),
        (
            "/delete_requests/",
            '{"worker_id": 7, "requests": [{"request_idx": 1, "success": "yes"}]}',
            "success must be true or false",
        ),
        ("/route/", json.dumps(route_body(cost=None)), "cost is missing"),
        ("/route/", json.dumps(route_body(cost=-1)), "cost must not be negative"),
        ("/route/", json.dumps(route_body(request_idx=-1)), "request_idx must be 0"),
        ("/route/", json.dumps(route_body(request_idx=1.5)), "request_idx must be an integer"),
        ("/route/", json.dumps(route_body(endpoint=None)), "endpoint must be"),
        ("/route/", b"\xff\xfe", "not valid JSON"),
        ("/get_endpoint_workers/", "null", "must be a JSON object"),
    ],
)
async def test_bad_bodies_get_400_json(
    emulator_client: TestClient, path: str, body: str | bytes, text: str
) -> None:
    response = await emulator_client.post(
        path, data=body, headers={"Content-Type": "application/json"}
    )
    await assert_json_error(response, 400, text)


@pytest.mark.parametrize(
    ("body", "headers", "status", "text"),
    [
        (route_body(api_key="wrong"), {}, 401, "wrong api key"),
        (route_body(), {"Authorization": "Bearer wrong"}, 401, "wrong api key"),
        (route_body(api_key=None), {}, 401, "api key missing"),
        (route_body(endpoint="other"), {}, 404, "no endpoint named 'other'"),
    ],
)
async def test_route_refuses_wrong_key_and_unknown_endpoint(
    emulator_client: TestClient, body: dict, headers: dict, status: int, text: str
) -> None:
    await assert_json_error(
        await emulator_client.post("/route/", json=body, headers=headers), status, text
    )


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "text"),
    [
        ("GET", "/api/v0/endptjobs/", {}, 401, "api key missing"),
        ("GET", "/api/v0/endptjobs/", {"params": {"api_key": "wrong"}}, 401, "wrong api key"),
        ("GET", "/api/v0/endptjobs/", {"headers": {"Authorization": "Bearer x"}}, 401, "wrong"),
        ("GET", "/api/v0/endptjobs/2/", {"headers": BEARER}, 404, "no endpoint with id '2'"),
        ("GET", "/api/v0/endptjobs/abc/", {"headers": BEARER}, 404, "no endpoint with id"),
        ("POST", "/get_endpoint_workers/", {"json": {"id": 1, "api_key": "x"}}, 401, "wrong"),
        ("POST", "/get_endpoint_workers/", {"json": {"id": 1}}, 401, "api key missing"),
        ("POST", "/get_endpoint_workers/", {"json": {"id": 5, "api_key": API_KEY}}, 404, "id 5"),
        ("GET", "/no/such/route", {}, 404, "Not Found"),
        ("GET", "/route/", {}, 405, "Method Not Allowed"),
    ],
)
async def test_other_refusals_are_json(
    emulator_client: TestClient,
    method: str,
    path: str,
    kwargs: dict,
    status: int,
    text: str,
) -> None:
    response = await emulator_client.request(method, path, **kwargs)
    await assert_json_error(response, status, text)


@pytest.mark.parametrize(
    ("query", "body", "text"),
    [
        ("", b"-----BEGIN CERTIFICATE REQUEST-----", "instance_id is missing"),
        ("?instance_id=abc", b"x", "instance_id is missing or not a number"),
        ("?instance_id=12", b"", "empty body"),
        ("?instance_id=12", b"not a csr", "not a PEM certificate signing request"),
    ],
)
async def test_sign_cert_refusals_are_one_line_of_text(
    emulator_client: TestClient, query: str, body: bytes, text: str
) -> None:
    response = await emulator_client.post(f"/api/v0/sign_cert/{query}", data=body)
    assert response.status == 400
    message = await response.text()
    assert text in message and message.count("\n") == 1


async def test_oversized_body_is_refused(emulator_client: TestClient) -> None:
    response = await emulator_client.post("/worker_status/", data=b"x" * (2 * 1024 * 1024))
    await assert_json_error(response, 413, "Too Large")


async def test_unexpected_error_is_one_log_line_and_500_json(
    aiohttp_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("disk on fire")

    app = make_app(EmulatorConfig())
    app.router.add_get("/broken", broken)
    client = await aiohttp_client(app)
    response = await client.get("/broken")
    await assert_json_error(response, 500, "internal error")
    assert "Traceback" not in await response.text()
    [record] = [r for r in caplog.records if r.name == "emulator"]
    assert record.getMessage() == "unexpected error in GET /broken: RuntimeError: disk on fire"
