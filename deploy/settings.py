"""What a deployment is made of, checked before anything is sent to Vast."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from deploy.errors import InputError

WORKER_PORT = 3000
ENTRYPOINT = "/usr/local/bin/null-worker-entrypoint"
# Vast's SSH and Jupyter launch modes replace the image's entrypoint with their own; the
# template's on-start script then starts the worker and the consumer in the background.
ON_START_LINE = f"nohup {ENTRYPOINT} > /var/log/null-worker.log 2>&1 &"
LAUNCH_MODES = ("entrypoint", "ssh", "jupyter")

# One reservation (cost 100 against max_perf 100) is one whole worker: see the README's
# "Deploy on Vast" section for why each value.
ENDPOINT_PARAMETERS = (
    ("target_util", "1.0"),
    ("min_load", "0"),
    ("max_queue_time", "1"),
    ("target_queue_time", "0.5"),
    ("inactivity_timeout", "10"),
)

DEFAULT_GPU_QUERY = "num_gpus=1 direct_port_count>=2"
DEFAULT_DISK_GB = 20

_ENDPOINT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_./:@%+=,-]*")
_RESERVED_ENV = {"CONSUMER_CMD": "--consumer-cmd", "BACKEND_HEALTH_URL": "--backend-health-url"}


@dataclass(frozen=True)
class Settings:
    image: str
    endpoint: str
    template_name: str
    consumer_cmd: str | None = None
    backend_health_url: str | None = None
    extra_env: tuple[tuple[str, str], ...] = ()
    launch_mode: str = "entrypoint"
    max_workers: int | None = None
    cold_workers: int | None = None
    gpu_query: str = DEFAULT_GPU_QUERY
    disk_gb: int = DEFAULT_DISK_GB

    @property
    def image_name(self) -> str:
        return split_image(self.image)[0]

    @property
    def image_tag(self) -> str:
        return split_image(self.image)[1]

    @property
    def environment(self) -> tuple[tuple[str, str], ...]:
        pairs = []
        if self.consumer_cmd is not None:
            pairs.append(("CONSUMER_CMD", self.consumer_cmd))
        if self.backend_health_url is not None:
            pairs.append(("BACKEND_HEALTH_URL", self.backend_health_url))
        return (*pairs, *self.extra_env)

    @property
    def docker_options(self) -> str:
        """The template's "Docker options" field: the worker's port and the environment."""
        words = [f"-p {WORKER_PORT}:{WORKER_PORT}"]
        words += [f"-e {name}={_quoted(value)}" for name, value in self.environment]
        return " ".join(words)

    @property
    def on_start(self) -> str | None:
        return None if self.launch_mode == "entrypoint" else ON_START_LINE


def split_image(image: str) -> tuple[str, str]:
    """`repo/name:tag` as (`repo/name`, `tag`); no tag means `latest`."""
    name, colon, tag = image.rpartition(":")
    if not colon or "/" in tag:
        return image, "latest"
    return name, tag


def validate(settings: Settings) -> Settings:
    """The settings unchanged, or an InputError naming the first option that is wrong."""
    _check_image(settings.image)
    if not _ENDPOINT_NAME.fullmatch(settings.endpoint):
        raise InputError(f"--endpoint {settings.endpoint!r} is not a usable endpoint name: "
                            "use letters, digits, '.', '_' or '-' (at most 64)")
    if not settings.template_name.strip():
        raise InputError("--template-name is empty: leave it out to get "
                            f"null-worker-{settings.endpoint}")
    if settings.consumer_cmd is not None and not settings.consumer_cmd.strip():
        raise InputError("--consumer-cmd is empty: give the command that runs your queue "
                            "consumer, or leave the option out")
    if settings.backend_health_url is not None:
        _check_url(settings.backend_health_url)
    _check_extra_env(settings.extra_env)
    for name, value in settings.environment:
        _check_env(name, value)
    if settings.launch_mode not in LAUNCH_MODES:
        raise InputError(f"--launch-mode {settings.launch_mode!r} is not one of "
                            f"{', '.join(LAUNCH_MODES)}")
    if settings.max_workers is not None and settings.max_workers < 1:
        raise InputError(f"--max-workers {settings.max_workers} is below 1: an endpoint "
                            "needs at least one worker")
    if settings.cold_workers is not None and settings.cold_workers < 0:
        raise InputError(f"--cold-workers {settings.cold_workers} is negative: use 0 or more")
    if not settings.gpu_query.strip():
        raise InputError(f"--gpu-query is empty: use e.g. {DEFAULT_GPU_QUERY!r}")
    if settings.disk_gb < 1:
        raise InputError(f"--disk {settings.disk_gb} is below 1 GB: use e.g. "
                            f"{DEFAULT_DISK_GB}")
    return settings


def parse_env(word: str) -> tuple[str, str]:
    """`NAME=VALUE` from `--env` as a pair."""
    name, equals, value = word.partition("=")
    if not equals:
        raise InputError(f"--env {word!r} has no '=': use --env NAME=VALUE")
    return name, value


def _check_image(image: str) -> None:
    if not image or any(c.isspace() for c in image):
        raise InputError(f"--image {image!r} is not an image reference: use e.g. "
                            "ghcr.io/OWNER/null-worker:0.1.0")
    if "@" in image:
        raise InputError(f"--image {image!r} is pinned by digest: a Vast template takes an "
                            "image and a tag, so give a tag such as :0.1.0")


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"--backend-health-url {url!r} is not an absolute http(s) URL: "
                            "use e.g. http://127.0.0.1:9090/health")


def _check_env(name: str, value: str) -> None:
    if not _ENV_NAME.fullmatch(name):
        raise InputError(f"environment variable name {name!r} is not usable: use letters, "
                            "digits and '_', not starting with a digit")
    if any(c in value for c in "'\"\n\r"):
        # Vast reads the Docker options field with its own splitting, which has no escapes:
        # a quote inside a value cannot be carried through it reliably.
        raise InputError(f"{name} contains a quote or a line break, which Vast's Docker "
                            "options field cannot carry: put the command in a script in "
                            "your image and give the script's path")


def _check_extra_env(pairs: tuple[tuple[str, str], ...]) -> None:
    seen: set[str] = set()
    for name, _ in pairs:
        if name in _RESERVED_ENV:
            raise InputError(f"--env {name}=... : use {_RESERVED_ENV[name]} instead")
        if name in seen:
            raise InputError(f"--env {name} is given twice: keep one")
        seen.add(name)


def _quoted(value: str) -> str:
    return value if value and _PLAIN_VALUE.fullmatch(value) else f"'{value}'"
