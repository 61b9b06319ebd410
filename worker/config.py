"""The worker's settings, read once from the environment Vast gives every instance.

`python -m worker.config` checks the environment and prints one line naming the first
problem; `--preflight` also checks that the worker's ports are free and, with USE_SSL=true,
that its certificate is in place. The image's entrypoint runs both before supervisord, so
a misconfigured container stops at once with that line.
"""

from __future__ import annotations

import math
import os
import re
import socket
import sys
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_REPORT_ADDR = "https://run.vast.ai"
DEFAULT_WORKER_PORT = 3000
DEFAULT_CONTROL_PORT = 18999
DEFAULT_MAX_LIFETIME = 86400.0
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(ValueError):
    """A setting that is missing or wrong; the message says what to do about it."""


@dataclass(frozen=True)
class Settings:
    worker_port: int
    control_port: int
    report_addr: str
    container_id: int
    public_ip: str
    public_port: int
    use_ssl: bool
    health_url: str | None
    log_level: str
    unsecured: bool
    max_lifetime: float

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.control_port}"

    @property
    def public_url(self) -> str:
        scheme = "https" if self.use_ssl else "http"
        return f"{scheme}://{self.public_ip}:{self.public_port}"


def _port(env: Mapping[str, str], name: str, default: int | None) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        if default is None:
            raise ConfigError(f"{name} is not set: Vast sets it on every instance; outside Vast, "
                              f"set it to the public port that reaches WORKER_PORT")
        return default
    if not _digits(raw) or not 0 < int(raw) < 65536:
        raise ConfigError(f"{name}={raw!r} is not a port: use a number from 1 to 65535")
    return int(raw)


def _digits(raw: str) -> bool:
    return re.fullmatch(r"[0-9]+", raw) is not None


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").lower()
    if not raw:
        return default
    if raw in ("true", "false"):
        return raw == "true"
    raise ConfigError(f"{name}={raw!r} is not a flag: use true or false")


def _required(env: Mapping[str, str], name: str, hint: str) -> str:
    raw = env.get(name, "").strip()
    if not raw:
        raise ConfigError(f"{name} is not set: {hint}")
    return raw


def _health_url(env: Mapping[str, str]) -> str | None:
    raw = env.get("BACKEND_HEALTH_URL", "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"BACKEND_HEALTH_URL={raw!r} is not an absolute URL: "
                          "use e.g. http://127.0.0.1:9090/health")
    return raw


def _max_lifetime(env: Mapping[str, str]) -> float:
    raw = env.get("NULL_MAX_LIFETIME", "").strip()
    if not raw:
        return DEFAULT_MAX_LIFETIME
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"NULL_MAX_LIFETIME={raw!r} is not a positive number of seconds")
    return value


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check every setting; raise ConfigError naming the first bad one."""
    env = os.environ if env is None else env
    worker_port = _port(env, "WORKER_PORT", DEFAULT_WORKER_PORT)
    control_port = _port(env, "NULL_CONTROL_PORT", DEFAULT_CONTROL_PORT)
    http_port = _port(env, "WORKER_HTTP_PORT", worker_port + 1)
    if http_port == worker_port:
        raise ConfigError(f"WORKER_HTTP_PORT={http_port} is WORKER_PORT too: the framework "
                          "opens both; leave WORKER_HTTP_PORT unset or choose another port")
    if control_port in (worker_port, http_port):
        raise ConfigError(f"NULL_CONTROL_PORT={control_port} clashes with the worker's own ports "
                          f"({worker_port} and {http_port}): choose another port")

    container_id = _required(env, "CONTAINER_ID",
                             "Vast sets it on every instance; outside Vast, set any integer")
    if not _digits(container_id):
        raise ConfigError(f"CONTAINER_ID={container_id!r} is not an integer: "
                          "Vast's instance ids are whole numbers")

    log_level = env.get("LOG_LEVEL", "info").strip().lower() or "info"
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL={log_level!r} is not one of {', '.join(LOG_LEVELS)}")

    report_addr = env.get("REPORT_ADDR", "").strip() or DEFAULT_REPORT_ADDR
    for addr in report_addr.split(","):
        if urlsplit(addr).scheme not in ("http", "https"):
            raise ConfigError(f"REPORT_ADDR={report_addr!r} must be one or more http(s) URLs "
                              "separated by commas")

    return Settings(
        worker_port=worker_port,
        control_port=control_port,
        report_addr=report_addr,
        container_id=int(container_id),
        public_ip=_required(env, "PUBLIC_IPADDR",
                            "Vast sets it on every instance; outside Vast, set the address "
                            "clients use to reach this container"),
        public_port=_port(env, f"VAST_TCP_PORT_{worker_port}", None),
        use_ssl=_flag(env, "USE_SSL", True),
        health_url=_health_url(env),
        log_level=log_level,
        unsecured=_flag(env, "UNSECURED", False),
        max_lifetime=_max_lifetime(env),
    )


def export_for_framework(settings: Settings, env: MutableMapping[str, str]) -> None:
    """Write the defaults back, since vastai's framework reads these names itself."""
    env["WORKER_PORT"] = str(settings.worker_port)
    env["REPORT_ADDR"] = settings.report_addr
    env["USE_SSL"] = "true" if settings.use_ssl else "false"
    env["UNSECURED"] = "true" if settings.unsecured else "false"


CERTIFICATE = "/etc/instance.crt"
CERTIFICATE_KEY = "/etc/instance.key"


def _free(port: int, host: str, name: str) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ConfigError(f"{name}={port} cannot be used ({error.strerror}): another "
                              "program in the container holds it; choose another port") from None


def preflight(settings: Settings, env: Mapping[str, str]) -> None:
    """What must hold just before the worker starts, beyond well-formed settings."""
    _free(settings.worker_port, "0.0.0.0", "WORKER_PORT")
    _free(_port(env, "WORKER_HTTP_PORT", settings.worker_port + 1), "0.0.0.0", "WORKER_HTTP_PORT")
    _free(settings.control_port, "127.0.0.1", "NULL_CONTROL_PORT")
    if settings.use_ssl:
        for path in (CERTIFICATE, CERTIFICATE_KEY):
            if not os.path.isfile(path):
                raise ConfigError(f"USE_SSL=true but {path} is missing: the entrypoint gets it "
                                  "from NULL_CERT_SIGN_URL; set USE_SSL=false for plain HTTP")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        settings = load()
        if "--preflight" in argv:
            preflight(settings, os.environ)
    except ConfigError as error:
        print(f"null-worker: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
