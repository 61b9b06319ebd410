import base64
import datetime
import ipaddress
import json
import shutil
import ssl
import subprocess
from collections.abc import Awaitable, Callable
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
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from emulator.keys import CertificateAuthority, CertificateRequestError, RouteSigner

ServerFactory = Callable[..., Awaitable[TestServer]]


def framework_accepts(public_key_pem: str, url: str, signature: str) -> bool:
    """The check vastai's Backend makes on auth_data before it serves a request."""
    key = RSA.import_key(public_key_pem)
    message = json.dumps({"url": url}, indent=4, sort_keys=True)
    try:
        pkcs1_15.new(key).verify(SHA256.new(message.encode()), base64.b64decode(signature))
    except (ValueError, TypeError):
        return False
    return True


def make_csr(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
    names: list[x509.GeneralName] | None = None,
) -> tuple[bytes, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pyworker.vast.ai")])
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM), key


def alt_names(certificate: x509.Certificate) -> list[object]:
    extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return [name.value for name in extension.value]


@pytest.fixture(scope="module")
def authority() -> CertificateAuthority:
    return CertificateAuthority()


def test_route_signature_passes_the_frameworks_check() -> None:
    signer = RouteSigner()
    url = "https://127.0.0.1:41000"
    signature = signer.sign_url(url)
    assert framework_accepts(signer.public_key_pem, url, signature)
    assert not framework_accepts(signer.public_key_pem, "https://127.0.0.1:41001", signature)
    assert not framework_accepts(RouteSigner().public_key_pem, url, signature)


def test_keys_are_new_at_each_start() -> None:
    assert RouteSigner().public_key_pem != RouteSigner().public_key_pem
    assert CertificateAuthority().certificate_pem != CertificateAuthority().certificate_pem


def test_root_certificate_is_a_proper_ca(authority: CertificateAuthority) -> None:
    root = x509.load_pem_x509_certificate(authority.certificate_pem.encode())
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = root.extensions.get_extension_for_class(x509.KeyUsage)
    assert constraints.critical and constraints.value.ca
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    root.verify_directly_issued_by(root)


def test_signed_certificate_chains_to_the_root_and_keeps_the_requested_names(
    authority: CertificateAuthority,
) -> None:
    requested = [x509.DNSName("worker.example"), x509.IPAddress(ipaddress.ip_address("0.0.0.0"))]
    csr, key = make_csr(names=requested)
    certificate = authority.sign_request(csr, instance_id=12)

    certificate.verify_directly_issued_by(authority.certificate)
    assert certificate.public_key() == key.public_key()
    assert alt_names(certificate) == [
        "worker.example",
        ipaddress.ip_address("0.0.0.0"),
        ipaddress.ip_address("127.0.0.1"),
    ]
    lifetime = certificate.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(days=29) < lifetime <= datetime.timedelta(days=30)
    assert not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_configured_ips_are_added_once() -> None:
    authority = CertificateAuthority(["127.0.0.1", "10.1.2.3", "::1"])
    csr, _ = make_csr(names=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    names = alt_names(authority.sign_request(csr, instance_id=1))
    assert names == [ipaddress.ip_address(ip) for ip in ("127.0.0.1", "10.1.2.3", "::1")]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_csr_made_like_vasts_start_script_is_signed(
    authority: CertificateAuthority, tmp_path: Path
) -> None:
    subprocess.run(
        [
            "openssl", "req", "-newkey", "rsa:2048", "-subj", "/C=US/ST=CA/CN=pyworker.vast.ai/",
            "-addext", "subjectAltName=IP:0.0.0.0", "-nodes", "-sha256",
            "-keyout", str(tmp_path / "instance.key"), "-out", str(tmp_path / "instance.csr"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    certificate = authority.sign_request((tmp_path / "instance.csr").read_bytes(), 3)
    cn = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "pyworker.vast.ai"
    assert alt_names(certificate) == [ipaddress.ip_address(ip) for ip in ("0.0.0.0", "127.0.0.1")]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"hello", "not a PEM certificate signing request"),
        (
            b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            "not a",
        ),
    ],
)
def test_what_is_not_a_csr_is_refused(
    authority: CertificateAuthority, body: bytes, reason: str
) -> None:
    with pytest.raises(CertificateRequestError, match=reason):
        authority.sign_request(body, 1)


def test_certificate_instead_of_csr_is_refused(authority: CertificateAuthority) -> None:
    with pytest.raises(CertificateRequestError, match="not a PEM certificate signing request"):
        authority.sign_request(authority.certificate_pem.encode(), 1)


def test_weak_rsa_key_is_refused(authority: CertificateAuthority) -> None:
    csr, _ = make_csr(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    with pytest.raises(CertificateRequestError, match="RSA key too small"):
        authority.sign_request(csr, 1)


def write_server_files(authority: CertificateAuthority, tmp_path: Path) -> tuple[Path, Path]:
    csr, key = make_csr(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    certificate = authority.sign_request(csr, instance_id=5)
    cert_file, key_file = tmp_path / "instance.crt", tmp_path / "instance.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def answer_worker(request: web.Request) -> web.Response:
    return web.Response(text="worker")


def client_context(root_pem: str, strict: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=root_pem)
    if strict:
        context.verify_flags |= ssl.VERIFY_X509_STRICT
    else:
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "as-the-sdk-does"])
async def test_tls_worker_with_a_signed_certificate_is_trusted(
    authority: CertificateAuthority,
    tmp_path: Path,
    aiohttp_server: ServerFactory,
    strict: bool,
) -> None:
    cert_file, key_file = write_server_files(authority, tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    app = web.Application()
    app.router.add_get("/", answer_worker)
    server = await aiohttp_server(app, host="127.0.0.1", ssl=server_context)

    url = f"https://127.0.0.1:{server.port}/"
    async with aiohttp.ClientSession() as session:
        context = client_context(authority.certificate_pem, strict)
        async with session.get(url, ssl=context) as response:
            assert await response.text() == "worker"
        stranger = client_context(CertificateAuthority().certificate_pem, strict)
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(url, ssl=stranger)
