"""Create or update the deployment on Vast: look up what exists, check every command the
change needs with vastai's own parser, then run them in order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from deploy import outputs, vastai_cli
from deploy.commands import (
    SHOW_ENDPOINTS,
    SHOW_WORKERGROUPS,
    TEMPLATE_HASH,
    Existing,
    Output,
    Word,
    plan,
    render,
)
from deploy.errors import DeployError
from deploy.settings import Settings

Vastai = Callable[[Sequence[str]], vastai_cli.Printed]
T = TypeVar("T")


def deploy(settings: Settings, vastai: Vastai, say: Callable[[str], None] = print) -> str:
    """Make Vast match the settings; returns the template hash the workergroup now uses."""
    existing = find_existing(settings.endpoint, vastai, say)
    steps = plan(settings, existing)
    for step in steps:
        vastai_cli.check(step.words)
    known: dict[Output, str] = {}
    for step in steps:
        value = _run([_resolve(word, known) for word in step.words], step.read, vastai, say)
        if step.gives is not None:
            known[step.gives] = value
    return known[TEMPLATE_HASH]


def find_existing(endpoint: str, vastai: Vastai, say: Callable[[str], None]) -> Existing:
    endpoints = [row for row in _rows(SHOW_ENDPOINTS, vastai, say)
                 if row.get("endpoint_name") == endpoint]
    if not endpoints:
        return Existing()
    if len(endpoints) > 1:
        ids = ", ".join(str(row.get("id")) for row in endpoints)
        raise DeployError(f"{len(endpoints)} endpoints are named {endpoint} (ids {ids}): "
                          "delete the extra ones with `vastai delete endpoint ID`")
    endpoint_id = _id(endpoints[0], "endpoint")
    groups = [row for row in _rows(SHOW_WORKERGROUPS, vastai, say)
              if row.get("endpoint_id") == endpoint_id]
    if not groups:
        return Existing(endpoint_id)
    if len(groups) > 1:
        ids = ", ".join(str(row.get("id")) for row in groups)
        raise DeployError(f"endpoint {endpoint} has {len(groups)} workergroups (ids {ids}) and "
                          "this command manages one: delete the others with "
                          "`vastai delete workergroup ID`")
    template_hash = groups[0].get("template_hash")
    return Existing(endpoint_id, _id(groups[0], "workergroup"),
                    template_hash if isinstance(template_hash, str) and template_hash else None)


def _run(words: Sequence[str], read: Callable[[str], T], vastai: Vastai,
         say: Callable[[str], None]) -> T:
    say(render(words))
    printed = vastai(words)
    try:
        if printed.returncode != 0:
            raise outputs.OutputError(f"exit status {printed.returncode}")
        return read(printed.stdout)
    except outputs.OutputError as error:
        raise DeployError(f"`vastai {words[0]} {words[1]}` failed: {printed.last_words()} "
                          f"({error})") from None


def _rows(words: Sequence[str], vastai: Vastai,
          say: Callable[[str], None]) -> list[dict[str, Any]]:
    return _run(words, outputs.rows, vastai, say)


def _resolve(word: Word, known: dict[Output, str]) -> str:
    if isinstance(word, Output):
        return known[word]
    return word


def _id(row: dict[str, Any], kind: str) -> int:
    if not isinstance(row.get("id"), int):
        raise DeployError(f"vastai listed a {kind} with no id: {row!r}")
    return row["id"]

