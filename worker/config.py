"""The worker's settings, read once from the environment Vast gives every instance.

`python -m worker.config` checks the environment and prints one line per problem; the
image's entrypoint runs it before supervisord so a misconfigured container stops at once.
"""

from __future__ import annotations

import math
import os
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
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{name}={raw!r} is not a port: use a number from 1 to 65535")
    return int(raw)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
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
    if control_port in (worker_port, http_port):
        raise ConfigError(f"NULL_CONTROL_PORT={control_port} clashes with the worker's own ports "
                          f"({worker_port} and {http_port}): choose another port")

    container_id = _required(env, "CONTAINER_ID",
                             "Vast sets it on every instance; outside Vast, set any integer")
    if not container_id.isdigit():
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


def main() -> int:
    try:
        load()
    except ConfigError as error:
        print(f"null-worker: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
