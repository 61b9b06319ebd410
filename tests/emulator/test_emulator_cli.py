import json
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from emulator_process import EmulatorProcess
from emulator_samples import REPO_ROOT


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "99999"], "99999 is not a port number"),
        (["--port", "http"], "'http' is not a number"),
        (["--cert-ip", "example.com"], "example.com is not an IP address"),
        (["--max-queue-time", "0"], "must be a positive number of seconds"),
        (["--log-level", "loud"], "invalid choice"),
    ],
)
def test_bad_arguments_are_named(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_port_in_use_is_one_log_line(busy_port: int) -> None:
    result = run_cli("--host", "127.0.0.1", "--port", str(busy_port))
    assert result.returncode == 1
    assert f"emulator ERROR cannot listen on 127.0.0.1:{busy_port}: " in result.stderr
    assert "Traceback" not in result.stderr


def test_emulator_stops_cleanly_on_sigterm(emulator_process: EmulatorProcess) -> None:
    assert emulator_process.stop() == 0
    emulator_process.wait_for_log("emulator stopping")


def test_options_reach_the_endpoint(start_emulator: Callable[..., EmulatorProcess]) -> None:
    emulator = start_emulator("--endpoint", "queue-a", "--endpoint-id", "42", "--api-key", "k2")
    line = emulator.wait_for_log("emulator listening on")
    assert line.endswith("for endpoint queue-a (id 42)")
    request = urllib.request.Request(
        f"{emulator.url}/api/v0/endptjobs/42/", headers={"Authorization": "Bearer k2"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        endpoint = json.load(response)["result"]
    assert (endpoint["endpoint_name"], endpoint["api_key"]) == ("queue-a", "k2")
