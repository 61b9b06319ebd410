"""What worker/framework.py relies on in vastai's private internals, checked on every run so
an upgrade that moves any of it fails here first."""

from __future__ import annotations

import re
from pathlib import Path

from vastai.serverless.server.lib import backend, metrics, server

from tests.support import REPO


def pinned(requirements: str, package: str) -> str:
    text = (REPO / "requirements" / requirements).read_text()
    return re.search(rf"^{package}==(\S+)", text, re.MULTILINE).group(1)


def test_image_and_tests_pin_the_same_vastai() -> None:
    assert pinned("worker.txt", "vastai") == pinned("dev.txt", "vastai")


def test_private_names_the_hooks_use_exist() -> None:
    assert backend.BENCHMARK_INDICATOR_FILE == ".has_benchmark"
    for name in ("_Backend__close_session", "_Backend__check_signature",
                 "session_create_handler", "session_end_handler", "session_get_handler",
                 "session_health_handler", "pyworker_update_handler", "backend_errored"):
        assert callable(getattr(backend.Backend, name)), name
    for name in ("_Metrics__send_delete_requests_and_reset", "_Metrics__send_metrics_and_reset",
                 "_model_loaded", "aclose"):
        assert callable(getattr(metrics.Metrics, name)), name


def test_the_server_registers_the_routes_the_guard_wraps() -> None:
    source = Path(server.__file__).read_text()
    for handler in ("session_create_handler", "session_end_handler", "session_get_handler",
                    "session_health_handler", "pyworker_update_handler"):
        assert f"backend.{handler}" in source, handler
