import re

import pytest

from worker.config import ConfigError, load

VAST_ENV = {"CONTAINER_ID": "7", "PUBLIC_IPADDR": "203.0.113.9", "VAST_TCP_PORT_3000": "41000"}


def test_defaults_follow_vasts_start_script() -> None:
    settings = load(VAST_ENV)
    assert settings.worker_port == 3000
    assert settings.report_addr == "https://run.vast.ai"
    assert settings.use_ssl is True
    assert settings.control_port == 18999
    assert settings.public_url == "https://203.0.113.9:41000"
    assert settings.health_url is None


@pytest.mark.parametrize("missing", ["CONTAINER_ID", "PUBLIC_IPADDR", "VAST_TCP_PORT_3000"])
def test_missing_vast_variable_is_named(missing: str) -> None:
    env = {k: v for k, v in VAST_ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=f"^{missing} is not set: "):
        load(env)


def test_public_port_follows_worker_port() -> None:
    env = {"CONTAINER_ID": "7", "PUBLIC_IPADDR": "h", "WORKER_PORT": "5000"}
    with pytest.raises(ConfigError, match=r"^VAST_TCP_PORT_5000 is not set"):
        load(env)
    assert load({**env, "VAST_TCP_PORT_5000": "5000"}).public_port == 5000


@pytest.mark.parametrize(("name", "value", "message"), [
    ("WORKER_PORT", "http", "is not a port"),
    ("NULL_CONTROL_PORT", "70000", "is not a port"),
    ("NULL_CONTROL_PORT", "3001", "clashes with the worker's own ports"),
    ("CONTAINER_ID", "abc", "is not an integer"),
    ("USE_SSL", "maybe", "use true or false"),
    ("BACKEND_HEALTH_URL", "/health", "is not an absolute URL"),
    ("LOG_LEVEL", "loud", "is not one of"),
    ("REPORT_ADDR", "run.vast.ai", "http(s) URLs"),
    ("NULL_MAX_LIFETIME", "inf", "positive number"),
    ("WORKER_HTTP_PORT", "3000", "is WORKER_PORT too"),
    ("NULL_CONTROL_PORT", "\uff11\uff18\uff19\uff19\uff19", "is not a port"),
    ("CONTAINER_ID", "\u00b2", "is not an integer"),
    ("USE_SSL", " true", "use true or false"),
])
def test_bad_values_say_what_to_do(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{name}=.*{re.escape(message)}"):
        load({**VAST_ENV, name: value})


def test_plain_http_and_health_url() -> None:
    settings = load({**VAST_ENV, "USE_SSL": "false",
                     "BACKEND_HEALTH_URL": "http://127.0.0.1:9090/health"})
    assert settings.public_url == "http://203.0.113.9:41000"
    assert settings.health_url == "http://127.0.0.1:9090/health"
