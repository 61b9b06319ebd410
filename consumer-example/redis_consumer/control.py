"""The worker's control server on 127.0.0.1, as the consumer uses it: wait, look, release."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class ControlUnavailable(RuntimeError):
    """The control server did not answer: the worker is starting, restarting or gone."""


class Control:
    def __init__(self, url: str) -> None:
        self.url = url

    def wait(self, seconds: float) -> str | None:
        """The id of the reservation held, waiting up to `seconds` for one; None if none came."""
        return self._session(f"/session?wait={seconds:g}", timeout=seconds + 10)

    def current(self) -> str | None:
        """The id of the reservation held now, or None."""
        return self._session("/session", timeout=10)

    def release(self) -> str | None:
        """End the reservation held now; the id released, or None when none was held."""
        status, body = self._call("/release", "POST", timeout=10)
        if status != 200:
            raise ControlUnavailable(f"POST /release answered HTTP {status}: {body}")
        return body.get("released")

    def release_own(self, reservation: str) -> tuple[bool, str | None]:
        """End `reservation` only if it is the one held; (released, the id held if another)."""
        status, body = self._call(f"/release?id={urllib.parse.quote(reservation)}", "POST",
                                  timeout=10)
        if status == 409:
            return False, body.get("held")
        if status != 200:
            raise ControlUnavailable(f"POST /release answered HTTP {status}: {body}")
        return body.get("released") == reservation, None

    def _session(self, path: str, timeout: float) -> str | None:
        status, body = self._call(path, "GET", timeout)
        if status == 404:
            return None
        if status != 200:
            raise ControlUnavailable(f"GET {path} answered HTTP {status}: {body}")
        return str(body["id"])

    def _call(self, path: str, method: str, timeout: float) -> tuple[int, Any]:
        request = urllib.request.Request(f"{self.url}{path}", method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _json(error.read())
        except OSError as error:
            raise ControlUnavailable(f"control server at {self.url} did not answer: "
                                     f"{getattr(error, 'reason', error)}") from None


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return {"error": raw[:200].decode(errors="replace")}
