"""Reading what `vastai` commands print: the values a later command needs, and whether the
command worked. vastai 1.9.1 prints some results as JSON (`--raw`), some as a Python dict
after a label, and reports HTTP errors on stderr with exit status 0; each reader here accepts
only the shape its command prints on success."""

from __future__ import annotations

import ast
import json
from typing import Any

from deploy.errors import DeployError


class OutputError(DeployError):
    """A command printed something other than its success result."""


def rows(stdout: str) -> list[dict[str, Any]]:
    """The rows a `show ... --raw` command prints as a JSON list."""
    value = _json(stdout)
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise OutputError("expected a JSON list of objects")
    return value


def created_template_hash(stdout: str) -> str:
    """`create template` prints `New Template: {...}` with the template as a Python dict."""
    return _hash_id(_labelled(stdout, "New Template: ", ast.literal_eval))


def updated_template_hash(stdout: str) -> str:
    """`update template` prints `updated template: {...}` with the new version as JSON."""
    return _hash_id(_labelled(stdout, "updated template: ", json.loads))


def created_endpoint_id(stdout: str) -> str:
    """`create endpoint --raw` prints the API's answer: `{"success": true, "result": ID}`."""
    answer = _successful(_json(stdout))
    endpoint_id = answer.get("result", answer.get("id"))
    if not isinstance(endpoint_id, int):
        raise OutputError(f"no endpoint id in {answer!r}")
    return str(endpoint_id)


def created_workergroup(stdout: str) -> str:
    """`create workergroup` prints `workergroup create {...}` with a Python dict."""
    _successful(_labelled(stdout, "workergroup create ", ast.literal_eval))
    return ""


def accepted(stdout: str) -> str:
    """An `update ... --raw` command prints the API's JSON answer."""
    _successful(_json(stdout))
    return ""


def _json(stdout: str) -> Any:
    try:
        return json.loads(stdout)
    except ValueError:
        raise OutputError("expected JSON") from None


def _labelled(stdout: str, label: str, parse: Any) -> Any:
    _, found, rest = stdout.partition(label)
    if not found:
        raise OutputError(f"no {label.strip()!r} in what it printed")
    try:
        return parse(rest.strip())
    except (ValueError, SyntaxError):
        raise OutputError(f"cannot read what follows {label.strip()!r}") from None


def _successful(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise OutputError(f"expected an object, got {answer!r}")
    if answer.get("success") is False:
        raise OutputError(str(answer.get("msg") or answer.get("error") or answer))
    return answer


def _hash_id(template: Any) -> str:
    if not isinstance(template, dict) or not isinstance(template.get("hash_id"), str):
        raise OutputError(f"no hash_id in {template!r}")
    return template["hash_id"]
