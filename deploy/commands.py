"""The `vastai` commands a deployment runs, each as the words that follow `vastai`.

A new endpoint takes three: create the template, create the endpoint, create the workergroup
that links them. An existing one is updated in place: a template update makes a new version
with a new hash, and the workergroup is pointed at it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from deploy import outputs
from deploy.settings import ENDPOINT_PARAMETERS, Settings


@dataclass(frozen=True)
class Output:
    """A value one command prints and a later command needs."""

    name: str
    sample: str  # stands in for the value when a command is checked before it can run

    def __str__(self) -> str:
        return f"<{self.name}>"


TEMPLATE_HASH = Output("template-hash", "0123456789abcdef0123456789abcdef")
ENDPOINT_ID = Output("endpoint-id", "1")

Word = str | Output


@dataclass(frozen=True)
class Step:
    words: tuple[Word, ...]
    read: Callable[[str], str] = field(compare=False)  # raises OutputError unless it worked
    gives: Output | None = None


@dataclass(frozen=True)
class Existing:
    """What `show endpoints` and `show workergroups` found for the endpoint's name."""

    endpoint_id: int | None = None
    workergroup_id: int | None = None
    template_hash: str | None = None


SHOW_ENDPOINTS = ("show", "endpoints", "--raw")
SHOW_WORKERGROUPS = ("show", "workergroups", "--raw")


def plan(settings: Settings, existing: Existing) -> list[Step]:
    """The commands that make Vast match the settings, given what already exists there."""
    if existing.template_hash is None:
        template = create_template(settings)
    else:
        template = update_template(settings, existing.template_hash)
    if existing.endpoint_id is None:
        endpoint, endpoint_id = create_endpoint(settings), ENDPOINT_ID
    else:
        endpoint = update_endpoint(settings, existing.endpoint_id)
        endpoint_id = str(existing.endpoint_id)
    if existing.workergroup_id is None:
        workergroup = create_workergroup(settings, endpoint_id)
    else:
        workergroup = update_workergroup(settings, existing.workergroup_id, endpoint_id)
    return [template, endpoint, workergroup]


def create_template(settings: Settings) -> Step:
    return Step(("create", "template", *_template_words(settings)),
                outputs.created_template_hash, TEMPLATE_HASH)


def update_template(settings: Settings, hash_id: str) -> Step:
    return Step(("update", "template", hash_id, *_template_words(settings)),
                outputs.updated_template_hash, TEMPLATE_HASH)


def create_endpoint(settings: Settings) -> Step:
    words = ("create", "endpoint", "--endpoint_name", settings.endpoint,
             *_endpoint_words(settings), "--raw")
    return Step(words, outputs.created_endpoint_id, ENDPOINT_ID)


def update_endpoint(settings: Settings, endpoint_id: int) -> Step:
    words = ("update", "endpoint", str(endpoint_id), *_endpoint_words(settings), "--raw")
    return Step(words, outputs.accepted)


def create_workergroup(settings: Settings, endpoint_id: Word) -> Step:
    words = ("create", "workergroup", "--template_hash", TEMPLATE_HASH,
             "--endpoint_id", endpoint_id, "--endpoint_name", settings.endpoint,
             "--search_params", settings.gpu_query)
    return Step(words, outputs.created_workergroup)


def update_workergroup(settings: Settings, workergroup_id: int, endpoint_id: Word) -> Step:
    words = ("update", "workergroup", str(workergroup_id), "--template_hash", TEMPLATE_HASH,
             "--endpoint_id", endpoint_id, "--search_params", settings.gpu_query, "--raw")
    return Step(words, outputs.accepted)


def render(words: Sequence[Word]) -> str:
    """The command as a shell line; a value not known yet shows as <its-name>."""
    return " ".join(_shell_word(str(word)) for word in ("vastai", *words))


def _shell_word(word: str) -> str:
    # Double quotes read better around the Docker options, whose values are single-quoted;
    # they are used only where the shell would change nothing inside them.
    quoted = shlex.quote(word)
    if quoted == word or "'" not in word or any(c in word for c in '"$`\\!'):
        return quoted
    return f'"{word}"'


def _template_words(settings: Settings) -> tuple[str, ...]:
    # No --ssh and no --jupyter is vastai's "args" runtype: Vast runs the image's ENTRYPOINT.
    words = ["--name", settings.template_name,
             "--image", settings.image_name, "--image_tag", settings.image_tag,
             # One word with '=': the value itself starts with '-'.
             f"--env={settings.docker_options}",
             "--search_params", settings.gpu_query,
             "--disk_space", str(settings.disk_gb)]
    if settings.launch_mode != "entrypoint":
        words += [f"--{settings.launch_mode}", "--direct"]
    if settings.on_start is not None:
        words += ["--onstart-cmd", settings.on_start]
    return tuple(words)


def _endpoint_words(settings: Settings) -> tuple[str, ...]:
    words = [word for name, value in ENDPOINT_PARAMETERS for word in (f"--{name}", value)]
    if settings.max_workers is not None:
        words += ["--max_workers", str(settings.max_workers)]
    if settings.cold_workers is not None:
        words += ["--cold_workers", str(settings.cold_workers)]
    return tuple(words)
