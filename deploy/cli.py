"""`python -m deploy`: create or update the Vast template, endpoint and workergroup for a
null-worker image.

    python -m deploy --image IMAGE --endpoint NAME [--template-name N] [--consumer-cmd CMD]
        [--backend-health-url URL] [--env NAME=VALUE ...] [--launch-mode {entrypoint,ssh,jupyter}]
        [--max-workers N] [--cold-workers N] [--gpu-query QUERY] [--disk GB]
        [--dry-run] [--api-key KEY]

It prints each `vastai` command before it runs it. With --dry-run it prints the commands
for a new endpoint and runs none.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Sequence
from typing import NoReturn

from deploy import vastai_cli
from deploy.apply import deploy
from deploy.commands import SHOW_ENDPOINTS, SHOW_WORKERGROUPS, Existing, plan, render
from deploy.errors import DeployError, InputError
from deploy.settings import (
    DEFAULT_DISK_GB,
    DEFAULT_GPU_QUERY,
    LAUNCH_MODES,
    ON_START_LINE,
    Settings,
    parse_env,
    validate,
)

DRY_RUN_NOTE = (
    "deploy: dry run, nothing was run. Shown: the commands for a new endpoint; when "
    "`show endpoints` finds {endpoint}, `update` commands take the place of the `create` "
    "ones. <template-hash> and <endpoint-id> stand for what earlier commands print."
)
NO_API_KEY = (
    "no Vast API key: set VAST_API_KEY, run `vastai set api-key KEY`, or pass --api-key KEY "
    "(make a key in the Vast console under Keys)"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"deploy: {message} (see python -m deploy --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", required=True,
                        help="the worker image with its tag, e.g. ghcr.io/OWNER/null-worker:0.1.0")
    parser.add_argument("--endpoint", required=True, help="the endpoint's name")
    parser.add_argument("--template-name", help="the template's name "
                        "(default: null-worker-ENDPOINT)")
    parser.add_argument("--consumer-cmd", help="CONSUMER_CMD: the command that runs your "
                        "queue consumer")
    parser.add_argument("--backend-health-url", help="BACKEND_HEALTH_URL: your consumer's "
                        "health URL, e.g. http://127.0.0.1:9090/health")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="another environment variable for the template (repeatable)")
    parser.add_argument("--launch-mode", choices=LAUNCH_MODES, default="entrypoint",
                        help="entrypoint (default): Vast runs the image's entrypoint; ssh or "
                        f"jupyter: Vast's own, and the template's on-start runs {ON_START_LINE!r}")
    parser.add_argument("--max-workers", type=int, help="the endpoint's max_workers "
                        "(default: Vast's own when creating, unchanged when updating)")
    parser.add_argument("--cold-workers", type=int, help="the endpoint's cold_workers "
                        "(default: Vast's own when creating, unchanged when updating)")
    parser.add_argument("--gpu-query", default=DEFAULT_GPU_QUERY,
                        help="which offers workers may run on, in `vastai search offers` "
                        "syntax (default: %(default)s)")
    parser.add_argument("--disk", type=int, default=DEFAULT_DISK_GB, metavar="GB",
                        help="disk space per worker (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the vastai commands and run none")
    parser.add_argument("--api-key", help="Vast API key (default: VAST_API_KEY, or the key "
                        "`vastai set api-key` saved)")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings(
        image=args.image,
        endpoint=args.endpoint,
        template_name=(args.template_name if args.template_name is not None
                       else f"null-worker-{args.endpoint}"),
        consumer_cmd=args.consumer_cmd,
        backend_health_url=args.backend_health_url,
        extra_env=tuple(parse_env(word) for word in args.env),
        launch_mode=args.launch_mode,
        max_workers=args.max_workers,
        cold_workers=args.cold_workers,
        gpu_query=args.gpu_query,
        disk_gb=args.disk,
    )
    validate(settings)
    vastai_cli.check_gpu_query(settings.gpu_query)
    return settings


def dry_run(settings: Settings) -> None:
    steps = plan(settings, Existing())
    for step in steps:
        vastai_cli.check(step.words)
    for words in (SHOW_ENDPOINTS, SHOW_WORKERGROUPS, *(step.words for step in steps)):
        print(render(words))
    print(DRY_RUN_NOTE.format(endpoint=settings.endpoint), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
        if args.dry_run:
            dry_run(settings)
            return 0
        if not vastai_cli.has_api_key(args.api_key):
            raise InputError(NO_API_KEY)
        template_hash = deploy(settings, functools.partial(vastai_cli.run, api_key=args.api_key))
    except InputError as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 2
    except DeployError as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 1
    print(f"deploy: endpoint {settings.endpoint} runs {settings.image} from template "
          f"{template_hash}; reserve a worker with: python -m worker.client "
          f"--endpoint {settings.endpoint} --instance prod")
    return 0
