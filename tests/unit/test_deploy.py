"""The deploy command: every vastai command it would run is parsed by the real vastai CLI's
own parser (built by vastai's `main`, in-process, no network), so a renamed flag fails here;
its dry run, its errors, and its create-or-update flow against a stand-in for `vastai`."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version

import pytest
from vastai.api.offers import template_fields_from_flags
from vastai.utils import parse_env

from deploy import cli, vastai_cli
from deploy.apply import deploy
from deploy.commands import (
    ENDPOINT_ID,
    SHOW_ENDPOINTS,
    SHOW_WORKERGROUPS,
    TEMPLATE_HASH,
    Existing,
    plan,
    render,
)
from deploy.errors import DeployError, InputError
from deploy.settings import ON_START_LINE, Settings, split_image

IMAGE = "ghcr.io/acme/null-worker:0.1.0"
OPTION_SETS = {
    "minimal": ["--image", IMAGE, "--endpoint", "demo"],
    "everything": [
        "--image", "registry.example:5000/team/null-worker:2.3.4-cuda", "--endpoint", "jobs-prod",
        "--template-name", "jobs worker", "--consumer-cmd", "node /app/consumer.js --queue jobs",
        "--backend-health-url", "http://127.0.0.1:9090/health",
        "--env", "REDIS_URL=redis://cache.internal:6379/0", "--env", "GREETING=echo $HOME & more",
        "--max-workers", "8", "--cold-workers", "0",
        "--gpu-query", "gpu_ram>=24 num_gpus=1 gpu_name=RTX_4090", "--disk", "40",
    ],
    "ssh": ["--image", "acme/null-worker", "--endpoint", "demo", "--launch-mode", "ssh",
            "--consumer-cmd", "/app/consumer"],
    "jupyter": ["--image", IMAGE, "--endpoint", "demo", "--launch-mode", "jupyter"],
}
FOUND = {
    "nothing": Existing(),
    "endpoint": Existing(endpoint_id=42),
    "everything": Existing(endpoint_id=42, workergroup_id=7, template_hash="c81e7ab0e928"),
}
RUNTYPES = {"entrypoint": "args", "ssh": "ssh", "jupyter": "jupyter"}
ENDPOINT_VALUES = {"target_util": 1.0, "min_load": 0.0, "max_queue_time": 1.0,
                   "target_queue_time": 0.5, "inactivity_timeout": 10}


def settings_for(name: str) -> Settings:
    return cli.settings_from(cli.build_parser().parse_args(OPTION_SETS[name]))


@pytest.mark.parametrize("found", FOUND)
@pytest.mark.parametrize("options", OPTION_SETS)
def test_every_command_parses_with_vastais_own_parser(options: str, found: str) -> None:
    settings, existing = settings_for(options), FOUND[found]
    template, endpoint, workergroup = (vastai_cli.check(step.words)
                                       for step in plan(settings, existing))
    assert_template(template, settings, existing)
    assert_endpoint(endpoint, settings, existing)
    assert_workergroup(workergroup, settings, existing)


def assert_template(args, settings: Settings, existing: Existing) -> None:
    if existing.template_hash is None:
        assert args.func.__name__ == "create__template"
    else:
        assert args.func.__name__ == "update__template"
        hash_id = args.HASH_ID
        assert hash_id == existing.template_hash
    assert (args.name, args.image, args.image_tag) == (
        settings.template_name, *split_image(settings.image))
    environment = dict(settings.environment)
    # As vastai's own reader of the Docker options field sees it, and as a shell would.
    assert parse_env(args.env) == {"-p 3000:3000": "1", **environment}
    words = shlex.split(args.env)
    assert words[:2] == ["-p", "3000:3000"]
    assert dict(word.split("=", 1) for word in words[3::2]) == environment
    fields = template_fields_from_flags(
        ssh=args.ssh, jupyter=args.jupyter, direct=args.direct, jupyter_lab=args.jupyter_lab,
        login=args.login, hide_readme=args.hide_readme, public=args.public,
        search_params=args.search_params, no_default=args.no_default, always_default=True)
    assert fields["runtype"] == RUNTYPES[settings.launch_mode]
    assert fields["private"] is True
    assert args.onstart_cmd == (None if settings.launch_mode == "entrypoint" else ON_START_LINE)
    assert args.search_params == settings.gpu_query
    assert args.disk_space == str(settings.disk_gb)


def assert_endpoint(args, settings: Settings, existing: Existing) -> None:
    assert {name: getattr(args, name) for name in ENDPOINT_VALUES} == ENDPOINT_VALUES
    assert args.raw is True
    if existing.endpoint_id is None:
        assert args.func.__name__ == "create__endpoint"
        assert args.endpoint_name == settings.endpoint
        vast_defaults = {"max_workers": 20, "cold_workers": 5}
    else:
        assert args.func.__name__ == "update__endpoint"
        assert args.id == existing.endpoint_id
        vast_defaults = {"max_workers": None, "cold_workers": None}
    for name, default in vast_defaults.items():
        given = getattr(settings, name)
        assert getattr(args, name) == (default if given is None else given)


def assert_workergroup(args, settings: Settings, existing: Existing) -> None:
    assert args.template_hash == TEMPLATE_HASH.sample
    assert args.search_params == settings.gpu_query
    if existing.endpoint_id is None:
        assert args.endpoint_id == int(ENDPOINT_ID.sample)
    else:
        assert args.endpoint_id == existing.endpoint_id
    if existing.workergroup_id is None:
        assert args.func.__name__ == "create__workergroup"
        assert args.endpoint_name == settings.endpoint
    else:
        assert args.func.__name__ == "update__workergroup"
        assert args.id == existing.workergroup_id


@pytest.mark.parametrize("words", [SHOW_ENDPOINTS, SHOW_WORKERGROUPS])
def test_lookups_parse_and_ask_for_json(words: tuple[str, ...]) -> None:
    args = vastai_cli.check(words)
    assert args.command == " ".join(words[:2])
    assert args.raw is True


@pytest.mark.parametrize(("words", "reason"), [
    (("create", "endpoint", "--target_utilization", "1.0"), "does not accept"),
    (("create", "endpoint", "--target_ut", "1.0"), "has no flag --target_ut"),
    (("create", "template", "--env=-p 3000:3000", "--disk", "8"), "has no flag --disk"),
    (("update", "endpoint", "--min_load", "0"), "does not accept"),
    (("create", "endpoint", "--inactivity_timeout", "0.5"), "does not accept"),
    (("launch", "endpoint"), "does not accept"),
])
def test_a_flag_vastai_does_not_have_stops_the_check(words: tuple[str, ...],
                                                     reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        vastai_cli.check(words)


@pytest.mark.parametrize("found", FOUND)
@pytest.mark.parametrize("options", OPTION_SETS)
def test_rendered_lines_split_back_into_the_same_words(options: str, found: str) -> None:
    for step in plan(settings_for(options), FOUND[found]):
        assert shlex.split(render(step.words)) == ["vastai", *map(str, step.words)]


@pytest.fixture
def no_vastai(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to run vastai fails the test."""
    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail("vastai was run")
    monkeypatch.setattr(vastai_cli, "run", refuse)
    monkeypatch.setattr(vastai_cli.subprocess, "run", refuse)


@pytest.mark.usefixtures("no_vastai")
def test_dry_run_prints_the_commands_and_runs_none(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*OPTION_SETS["minimal"], "--consumer-cmd", "node /app/consumer.js",
                     "--dry-run", "--api-key", "sekret-key-123"]) == 0
    out, err = capsys.readouterr()
    query = "'num_gpus=1 direct_port_count>=2'"
    assert out.splitlines() == [
        "vastai show endpoints --raw",
        "vastai show workergroups --raw",
        "vastai create template --name null-worker-demo --image ghcr.io/acme/null-worker "
        "--image_tag 0.1.0 \"--env=-p 3000:3000 -e CONSUMER_CMD='node /app/consumer.js'\" "
        f"--search_params {query} --disk_space 20",
        "vastai create endpoint --endpoint_name demo --target_util 1.0 --min_load 0 "
        "--max_queue_time 1 --target_queue_time 0.5 --inactivity_timeout 10 --raw",
        "vastai create workergroup --template_hash '<template-hash>' --endpoint_id "
        f"'<endpoint-id>' --endpoint_name demo --search_params {query}",
    ]
    assert "sekret" not in out + err
    assert err.startswith("deploy: dry run, nothing was run.")


@pytest.mark.usefixtures("no_vastai")
@pytest.mark.parametrize("options", OPTION_SETS)
def test_dry_run_shows_the_plan_for_a_new_endpoint(options: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*OPTION_SETS[options], "--dry-run"]) == 0
    expected = [render(SHOW_ENDPOINTS), render(SHOW_WORKERGROUPS),
                *(render(step.words) for step in plan(settings_for(options), Existing()))]
    assert capsys.readouterr().out.splitlines() == expected


BAD_INPUT = {
    "image with a space": (["--image", "my image", "--endpoint", "demo"], "--image 'my image'"),
    "image by digest": (["--image", "acme/nw@sha256:" + "0" * 64, "--endpoint", "demo"],
                        "pinned by digest"),
    "endpoint name": (["--image", IMAGE, "--endpoint", "my endpoint!"], "endpoint name"),
    "relative health URL": (["--image", IMAGE, "--endpoint", "demo", "--backend-health-url",
                             "/health"], "absolute http(s) URL"),
    "quote in consumer": (["--image", IMAGE, "--endpoint", "demo", "--consumer-cmd",
                           "bash -c 'run'"], "CONSUMER_CMD contains a quote"),
    "empty consumer": (["--image", IMAGE, "--endpoint", "demo", "--consumer-cmd", " "],
                       "--consumer-cmd is empty"),
    "env without =": (["--image", IMAGE, "--endpoint", "demo", "--env", "REDIS_URL"],
                      "--env NAME=VALUE"),
    "env name": (["--image", IMAGE, "--endpoint", "demo", "--env", "1X=a"], "'1X'"),
    "env twice": (["--image", IMAGE, "--endpoint", "demo", "--env", "A=1", "--env", "A=2"],
                  "given twice"),
    "env for an option": (["--image", IMAGE, "--endpoint", "demo", "--env", "CONSUMER_CMD=x"],
                          "use --consumer-cmd"),
    "no workers": (["--image", IMAGE, "--endpoint", "demo", "--max-workers", "0"], "below 1"),
    "negative cold": (["--image", IMAGE, "--endpoint", "demo", "--cold-workers", "-1"],
                      "negative"),
    "unknown gpu field": (["--image", IMAGE, "--endpoint", "demo", "--gpu-query",
                           "gpu_rom>=24"], "unknown field 'gpu_rom'"),
    "bad gpu operator": (["--image", IMAGE, "--endpoint", "demo", "--gpu-query",
                          "num_gpus=>1"], "--gpu-query"),
    "no disk": (["--image", IMAGE, "--endpoint", "demo", "--disk", "0"], "below 1 GB"),
    "missing endpoint": (["--image", IMAGE], "required: --endpoint"),
    "launch mode": (["--image", IMAGE, "--endpoint", "demo", "--launch-mode", "docker"],
                    "invalid choice"),
}


def exit_code(argv: list[str]) -> int | str | None:
    """main's return value, or the code argparse exits with."""
    try:
        return cli.main(argv)
    except SystemExit as stopped:
        return stopped.code


@pytest.mark.usefixtures("no_vastai")
@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_one_line_and_runs_nothing(case: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    argv, fragment = BAD_INPUT[case]
    assert exit_code([*argv, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith("deploy: ")
    assert fragment in err


@pytest.mark.usefixtures("no_vastai")
def test_missing_api_key_is_one_line_and_runs_nothing(
        monkeypatch: pytest.MonkeyPatch, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("VAST_API_KEY", raising=False)
    monkeypatch.setattr(vastai_cli, "key_files", lambda: [tmp_path / "vast_api_key"])
    assert cli.main(OPTION_SETS["minimal"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"deploy: {cli.NO_API_KEY}"]


@dataclass
class FakeVastai:
    """Stands in for `vastai`: answers each command by its first two words."""

    answers: dict[str, vastai_cli.Printed]
    ran: list[list[str]] = field(default_factory=list)
    api_keys: list[str | None] = field(default_factory=list)

    def __call__(self, words: Sequence[str], api_key: str | None = None) -> vastai_cli.Printed:
        self.ran.append(list(words))
        self.api_keys.append(api_key)
        return self.answers[" ".join(words[:2])]


def printed(stdout: str = "", stderr: str = "", returncode: int = 0) -> vastai_cli.Printed:
    return vastai_cli.Printed(returncode, stdout, stderr)


NEW_ENDPOINT = {
    "show endpoints": printed(json.dumps([{"id": 5, "endpoint_name": "other"}])),
    "create template": printed("New Template: {'id': 11, 'hash_id': 'h-new', 'name': 'x'}\n"),
    "create endpoint": printed(json.dumps({"success": True, "result": 99})),
    "create workergroup": printed("workergroup create {'success': True, 'id': 3}\n"),
}
EXISTING_ENDPOINT = {
    "show endpoints": printed(json.dumps([{"id": 42, "endpoint_name": "demo"}])),
    "show workergroups": printed(json.dumps([
        {"id": 8, "endpoint_id": 5, "template_hash": "h-other"},
        {"id": 7, "endpoint_id": 42, "template_hash": "h-old", "endpoint_name": "demo"},
    ])),
    "update template": printed('updated template: {\n "hash_id": "h-next",\n "id": 12\n}\n'),
    "update endpoint": printed(json.dumps({"success": True})),
    "update workergroup": printed(json.dumps({"success": True})),
}


def test_a_new_endpoint_is_created_and_linked() -> None:
    vastai = FakeVastai(NEW_ENDPOINT)
    said: list[str] = []
    settings = settings_for("minimal")
    assert deploy(settings, vastai, said.append) == "h-new"
    assert [words[:2] for words in vastai.ran] == [
        ["show", "endpoints"], ["create", "template"], ["create", "endpoint"],
        ["create", "workergroup"]]
    workergroup = vastai_cli.check(vastai.ran[-1])
    assert (workergroup.template_hash, workergroup.endpoint_id) == ("h-new", 99)
    assert said == [render(words) for words in vastai.ran]


def test_an_existing_endpoint_is_updated_in_place() -> None:
    vastai = FakeVastai(EXISTING_ENDPOINT)
    assert deploy(settings_for("minimal"), vastai, lambda line: None) == "h-next"
    assert [words[:3] for words in vastai.ran] == [
        ["show", "endpoints", "--raw"], ["show", "workergroups", "--raw"],
        ["update", "template", "h-old"], ["update", "endpoint", "42"],
        ["update", "workergroup", "7"]]
    workergroup = vastai_cli.check(vastai.ran[-1])
    assert (workergroup.template_hash, workergroup.endpoint_id) == ("h-next", 42)


def test_an_endpoint_without_workergroup_gets_one() -> None:
    answers = {**EXISTING_ENDPOINT, **NEW_ENDPOINT,
               "show endpoints": EXISTING_ENDPOINT["show endpoints"],
               "show workergroups": printed("[]")}
    vastai = FakeVastai(answers)
    deploy(settings_for("minimal"), vastai, lambda line: None)
    assert [" ".join(words[:2]) for words in vastai.ran[2:]] == [
        "create template", "update endpoint", "create workergroup"]
    assert vastai_cli.check(vastai.ran[-1]).endpoint_id == 42


def test_two_workergroups_on_the_endpoint_stop_before_any_change() -> None:
    rows = [{"id": 7, "endpoint_id": 42}, {"id": 9, "endpoint_id": 42}]
    vastai = FakeVastai({**EXISTING_ENDPOINT, "show workergroups": printed(json.dumps(rows))})
    with pytest.raises(DeployError, match=r"2 workergroups \(ids 7, 9\)"):
        deploy(settings_for("minimal"), vastai, lambda line: None)
    assert all(words[0] == "show" for words in vastai.ran)


def test_an_error_vastai_reports_on_stderr_stops_the_deploy(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # vastai 1.9.1 reports HTTP errors on stderr and still exits 0.
    answers = {**NEW_ENDPOINT, "create endpoint": printed(
        stderr="Failed with error 401: Invalid user key\n")}
    vastai = FakeVastai(answers)
    monkeypatch.setattr(vastai_cli, "run", vastai)
    assert cli.main([*OPTION_SETS["minimal"], "--api-key", "k-123"]) == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "deploy: `vastai create endpoint` failed: Failed with error 401: Invalid user key "
        "(expected JSON)"]
    assert [" ".join(words[:2]) for words in vastai.ran][-1] == "create endpoint"
    assert set(vastai.api_keys) == {"k-123"}
    assert "k-123" not in out


def test_a_deploy_prints_each_command_then_how_to_reserve(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VAST_API_KEY", "k-env")
    vastai = FakeVastai(NEW_ENDPOINT)
    monkeypatch.setattr(vastai_cli, "run", vastai)
    assert cli.main(OPTION_SETS["minimal"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:-1] == [render(words) for words in vastai.ran]
    assert lines[-1] == (f"deploy: endpoint demo runs {IMAGE} from template h-new; reserve a "
                         "worker with: python -m worker.client --endpoint demo --instance prod")
    assert vastai.api_keys == [None] * 4  # vastai reads VAST_API_KEY itself


def test_a_failed_template_update_names_vastais_message() -> None:
    answers = {**EXISTING_ENDPOINT, "update template": printed(
        "No template found with hash_id h-old\n", returncode=1)}
    with pytest.raises(DeployError, match="update template` failed: No template found"):
        deploy(settings_for("minimal"), FakeVastai(answers), lambda line: None)


def test_vastai_runs_in_this_interpreter_with_the_key_in_its_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}
    real_run = vastai_cli.subprocess.run

    def spy(argv: list[str], **kwargs: object):
        seen.update(argv=argv, env=kwargs["env"])
        return real_run(argv, **kwargs)

    monkeypatch.setattr(vastai_cli.subprocess, "run", spy)
    # --version is answered by vastai's parser before it could reach any server.
    result = vastai_cli.run(["--version"], api_key="k-456")
    assert result.returncode == 0
    assert version("vastai") in result.stdout
    assert "k-456" not in " ".join(seen["argv"])
    assert seen["env"]["VAST_API_KEY"] == "k-456"


@pytest.mark.parametrize(("image", "parts"), [
    ("ghcr.io/acme/null-worker:0.1.0", ("ghcr.io/acme/null-worker", "0.1.0")),
    ("acme/null-worker", ("acme/null-worker", "latest")),
    ("localhost:5000/null-worker", ("localhost:5000/null-worker", "latest")),
    ("localhost:5000/null-worker:1-cuda", ("localhost:5000/null-worker", "1-cuda")),
])
def test_an_image_splits_into_vasts_image_and_tag(image: str, parts: tuple[str, str]) -> None:
    assert split_image(image) == parts
