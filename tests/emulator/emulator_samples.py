"""Bodies the framework and the SDK send, for tests to post to the emulator."""

from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
API_KEY = "emulator-key"
WORKER_URL = "http://127.0.0.1:3000"


def worker_status(worker_id: int = 7, **changes: Any) -> dict[str, Any]:
    """A /worker_status/ body as the framework sends it for a loaded, idle null worker."""
    body = {
        "id": worker_id,
        "mtoken": "",
        "version": "1.1.0",
        "loadtime": 0.5,
        "cur_load": 0.0,
        "rej_load": 0.0,
        "new_load": 0.0,
        "error_msg": "",
        "max_perf": 100.0,
        "cur_perf": 0.0,
        "cur_capacity": 0,
        "max_capacity": 0,
        "num_requests_working": 0,
        "num_requests_recieved": 0,
        "additional_disk_usage": 0.0,
        "disk_usage": 12.5,
        "working_request_idxs": [],
        "url": WORKER_URL,
    }
    body.update(changes)
    return body


def route_body(**changes: Any) -> dict[str, Any]:
    body = {
        "endpoint": "null-demo",
        "api_key": API_KEY,
        "cost": 100,
        "request_idx": 0,
        "replay_timeout": 60.0,
    }
    body.update(changes)
    return body
