"""The emulator's keys: the RSA key that signs routes, and the CA that signs worker certificates.

Both are made fresh at each start and never leave memory.
"""

import base64
import datetime
import ipaddress
import json
from collections.abc import Iterable

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERTIFICATE_LIFETIME = datetime.timedelta(days=30)
CA_LIFETIME = datetime.timedelta(days=365)
CLOCK_SKEW = datetime.timedelta(minutes=5)
MIN_RSA_BITS = 2048


def signed_message(url: str) -> bytes:
    """The exact bytes the framework verifies a route signature over."""
    return json.dumps({"url": url}, indent=4, sort_keys=True).encode()


class RouteSigner:
    """Signs the worker URL of each route so the worker can tell the route came from here."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def public_key_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign_url(self, url: str) -> str:
        signature = self._key.sign(signed_message(url), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()


class CertificateRequestError(ValueError):
    """A CSR the CA will not sign; the message says why, in one line."""


class CertificateAuthority:
    """A root CA that signs TLS server certificates for workers, like Vast's sign_cert."""

    def __init__(self, extra_ips: Iterable[str] = ("127.0.0.1",)) -> None:
        self.extra_ips = [ipaddress.ip_address(ip) for ip in extra_ips]
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = _now()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "null-worker emulator"),
                x509.NameAttribute(NameOID.COMMON_NAME, "null-worker emulator root CA"),
            ]
        )
        public_key = self._key.public_key()
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def sign_request(self, csr_pem: bytes, instance_id: int) -> x509.Certificate:
        """Sign a PEM CSR for 30 days; its own SANs are kept and the configured IPs added."""
        csr = _load_request(csr_pem)
        public_key = csr.public_key()
        subject = csr.subject
        if not list(subject):
            subject = x509.Name(
                [x509.NameAttribute(NameOID.COMMON_NAME, f"instance {instance_id}")]
            )
        now = _now()
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + CERTIFICATE_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_server_key_usage(public_key), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(self._alt_names(csr)), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )

    def _alt_names(self, csr: x509.CertificateSigningRequest) -> list[x509.GeneralName]:
        names: list[x509.GeneralName] = []
        try:
            requested = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            requested = None
        except ValueError:
            raise CertificateRequestError("the CSR carries a malformed extension") from None
        if requested is not None:
            names.extend(
                name for name in requested.value if isinstance(name, (x509.DNSName, x509.IPAddress))
            )
        names.extend(x509.IPAddress(ip) for ip in self.extra_ips)
        return list(dict.fromkeys(names))


def _load_request(csr_pem: bytes) -> x509.CertificateSigningRequest:
    if not csr_pem.strip():
        raise CertificateRequestError("empty body: send the CSR in PEM form")
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError:
        raise CertificateRequestError("body is not a PEM certificate signing request") from None
    try:
        public_key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateRequestError("unsupported key type: use an RSA or EC key") from None
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < MIN_RSA_BITS:
            raise CertificateRequestError(f"RSA key too small: use at least {MIN_RSA_BITS} bits")
    elif not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise CertificateRequestError("unsupported key type: use an RSA or EC key")
    if not csr.is_signature_valid:
        raise CertificateRequestError("the CSR's signature does not match its key")
    return csr


def _server_key_usage(public_key: object) -> x509.KeyUsage:
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=is_rsa,
        data_encipherment=False,
        key_agreement=not is_rsa,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)
