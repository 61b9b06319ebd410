"""Routes Vast serves from its console (console.vast.ai): endpoint listing and certificates."""

import logging

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .keys import CertificateRequestError
from .messages import InputError
from .plane import PLANE

log = logging.getLogger("emulator")

routes = web.RouteTableDef()


@routes.get("/api/v0/endptjobs/")
async def list_endpoints(request: web.Request) -> web.Response:
    plane = request.app[PLANE]
    plane.authorize(request)
    return web.json_response({"success": True, "results": [plane.endpoint_record()]})


@routes.get("/api/v0/endptjobs/{endpoint_id}/")
async def show_endpoint(request: web.Request) -> web.Response:
    plane = request.app[PLANE]
    plane.authorize(request)
    if request.match_info["endpoint_id"] != str(plane.config.endpoint_id):
        raise InputError(404, f"no endpoint with id {request.match_info['endpoint_id']!r}")
    return web.json_response({"success": True, "result": plane.endpoint_record()})


@routes.post("/api/v0/sign_cert/")
async def sign_certificate(request: web.Request) -> web.Response:
    """Sign a worker's CSR, as the instance start script asks with curl --data-binary."""
    instance_id = request.query.get("instance_id", "")
    if not (instance_id.isascii() and instance_id.isdigit()):
        return _text_error("instance_id is missing or not a number: add ?instance_id=<id>")
    try:
        certificate = request.app[PLANE].authority.sign_request(
            await request.read(), int(instance_id)
        )
    except CertificateRequestError as error:
        return _text_error(str(error))
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    log.info(
        "signed certificate for instance %s (%s)",
        instance_id,
        ", ".join(str(name.value) for name in names),
    )
    return web.Response(text=certificate.public_bytes(serialization.Encoding.PEM).decode())


@routes.get("/static/jvastai_root.cer")
async def root_certificate(request: web.Request) -> web.Response:
    return web.Response(text=request.app[PLANE].authority.certificate_pem)


def _text_error(message: str) -> web.Response:
    return web.Response(status=400, text=message + "\n")
