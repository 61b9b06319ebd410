"""The one place where the deploy command reaches into the `vastai` package: its CLI's own
argument parser (to check every command before anything runs), its offer-query reader, its
API key files, and running `vastai ...` itself."""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.commands import Output, Word, render
from deploy.errors import DeployError, InputError

# Runs vastai's console-script entry point in this interpreter, so the CLI that runs is the
# one whose parser checked the commands. (`python -m vastai.cli.main` registers no commands.)
_LAUNCHER = "import sys; from vastai.cli.main import main; sys.argv[0] = 'vastai'; sys.exit(main())"
TIMEOUT_SECONDS = 300


class _ParserBuilt(Exception):
    pass


@functools.cache
def parser() -> Any:
    """vastai's CLI parser, built by vastai's own `main()`, stopped where it would parse."""
    from vastai.cli import main as cli

    def stop(*args: object, **kwargs: object) -> None:
        raise _ParserBuilt

    cli.parser.parse_args = stop
    try:
        cli.main()
    except _ParserBuilt:
        pass
    finally:
        del cli.parser.parse_args
    return cli.parser


def check(words: Sequence[Word]) -> argparse.Namespace:
    """Parse a command as `vastai` would; InputError if any word is not what vastai expects.

    Values not known yet are checked with a sample. Every flag must be one of the command's
    own, spelled out: argparse would take a prefix of a renamed flag without complaint."""
    argv = [word.sample if isinstance(word, Output) else word for word in words]
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            namespace = parser().parse_args(argv)
    except SystemExit:
        reason = errors.getvalue().strip().splitlines()
        raise InputError(f"the installed vastai CLI does not accept `{render(words)}`: "
                         f"{reason[-1] if reason else 'no reason given'}") from None
    flags = _command_flags(namespace.command)
    for word in argv:
        flag = word.partition("=")[0]
        if flag.startswith("--") and flag not in flags:
            raise InputError(f"the installed vastai CLI has no flag {flag} for "
                             f"`vastai {namespace.command}`")
    return namespace


def check_gpu_query(query: str) -> None:
    """InputError unless vastai reads the query and knows each field it names."""
    from vastai.api.query import offers_alias, offers_fields, offers_mult, parse_query

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            fields = parse_query(query, {}, offers_fields, offers_alias, offers_mult)
    except ValueError as error:
        raise InputError(f"--gpu-query {query!r}: {error}") from None
    unknown = sorted(set(fields) - set(offers_fields))
    if unknown:
        raise InputError(f"--gpu-query {query!r} names unknown field {unknown[0]!r}: see the "
                         "fields in `vastai search offers --help`")


def key_files() -> list[Path]:
    """Where `vastai set api-key` and `vastai tfa login` keep a key."""
    from vastai.cli.util import APIKEY_FILE, TFAKEY_FILE

    return [Path(TFAKEY_FILE), Path(APIKEY_FILE)]


def has_api_key(given: str | None) -> bool:
    """Whether vastai will find a key: --api-key, VAST_API_KEY, or one of its key files."""
    if given or os.environ.get("VAST_API_KEY"):
        return True
    return any(path.is_file() and path.read_text().strip() for path in key_files())


@dataclass(frozen=True)
class Printed:
    returncode: int
    stdout: str
    stderr: str

    def last_words(self) -> str:
        """What vastai said last: an error on stderr, else the start of its output."""
        for text, pick in ((self.stderr, -1), (self.stdout, 0)):
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if lines:
                return lines[pick]
        return "it printed nothing"


def run(words: Sequence[str], api_key: str | None = None) -> Printed:
    """Run `vastai WORDS`; a key given here reaches it through the environment, not argv."""
    env = dict(os.environ, VASTAI_NO_UPDATE_CHECK="1")
    if api_key:
        env["VAST_API_KEY"] = api_key
    try:
        done = subprocess.run([sys.executable, "-c", _LAUNCHER, *words], env=env, text=True,
                              capture_output=True, stdin=subprocess.DEVNULL,
                              timeout=TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise DeployError(f"`{render(words)}` gave no answer in {TIMEOUT_SECONDS} s: check "
                          "the network, then run the deploy command again") from None
    return Printed(done.returncode, done.stdout, done.stderr)


def _command_flags(command: str) -> set[str]:
    for action in parser().parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices[command]._option_string_actions)
    raise DeployError("the installed vastai CLI has no commands: reinstall vastai")
