"""Settings: the YAML file, the environment, flags, and the errors a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewrite.actions import Profile
from rewrite.config import Overrides, load_settings, parse_keep_alive
from rewrite.errors import ConfigError
from rewrite.hosts import parse_host
from tests.conftest import RunCli, write_config
from tests.standin import StandIn


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("", "http://127.0.0.1:11434"),
        ("127.0.0.1", "http://127.0.0.1:11434"),
        ("gpu-box", "http://gpu-box:11434"),
        ("gpu-box:8080", "http://gpu-box:8080"),
        (":5678", "http://127.0.0.1:5678"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:9999", "http://127.0.0.1:9999"),
        ("http://gpu-box", "http://gpu-box:80"),
        ("https://gpu-box", "https://gpu-box:443"),
        ("https://gpu-box:8443/ollama", "https://gpu-box:8443/ollama"),
        ("[::1]:11434", "http://[::1]:11434"),
        ("'127.0.0.1:1234'", "http://127.0.0.1:1234"),
    ],
)
def test_ollama_host_is_read_the_way_ollama_reads_it(value: str, url: str) -> None:
    assert parse_host(value).url == url


@pytest.mark.parametrize("value", ["ftp://x", "x:notaport", "x:70000"])
def test_bad_hosts_are_config_errors(value: str) -> None:
    with pytest.raises(ConfigError):
        parse_host(value)


@given(st.integers(min_value=1, max_value=65535))
def test_any_port_round_trips(port: int) -> None:
    assert parse_host(f"example.org:{port}").port == port


def test_defaults_without_a_file() -> None:
    settings = load_settings()
    assert settings.model == "qwen2.5:1.5b"
    assert settings.keep_alive == "30m"
    assert dict(settings.options) == {"num_ctx": 2048, "temperature": 0}
    assert [h.url for h in settings.hosts] == ["http://127.0.0.1:11434"]
    assert settings.config_file is None
    assert {"fix", "rephrase", "concise", "formal", "friendly", "simplify", "translate"} <= set(
        settings.actions
    )


def test_precedence_flags_then_environment_then_file(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(isolated_home, "hosts: [http://file-host:1]\nmodel: file-model\n")
    settings = load_settings()
    assert (settings.hosts[0].url, settings.model) == ("http://file-host:1", "file-model")
    assert settings.source("model") == f"{path}:2"
    monkeypatch.setenv("OLLAMA_HOST", "env-host:2")
    settings = load_settings()
    assert settings.hosts[0].url == "http://env-host:2"
    assert settings.source("hosts") == "environment OLLAMA_HOST"
    settings = load_settings(Overrides(hosts=("flag-host:3",), model="flag-model"))
    assert (settings.hosts[0].url, settings.model) == ("http://flag-host:3", "flag-model")
    assert (settings.source("hosts"), settings.source("model")) == ("--host", "--model")


def test_options_merge_over_the_defaults(isolated_home: Path) -> None:
    write_config(isolated_home, "options:\n  temperature: 0.2\n  top_p: 0.9\n")
    assert dict(load_settings().options) == {"num_ctx": 2048, "temperature": 0.2, "top_p": 0.9}


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("30m", "30m"),
        ("1h30m", "1h30m"),
        ("-1", -1),
        ("3600", 3600),
        (-1, -1),
        (300, 300),
        ("500ms", "500ms"),
    ],
)
def test_keep_alive_is_always_something_ollama_accepts(value: object, sent: object) -> None:
    assert parse_keep_alive(value) == sent


@pytest.mark.parametrize("value", ["forever", "30 minutes", "", True, [1]])
def test_keep_alive_rejects_what_ollama_would(value: object) -> None:
    assert parse_keep_alive(value) is None


@pytest.mark.parametrize(
    ("text", "line", "mentions"),
    [
        ("model: qwen\nmodle: x\n", 2, "modle: unknown key (did you mean 'model'?)"),
        ("model: [a, b]\n", 1, "model: expected a non-empty string"),
        ("timeout: -3\n", 1, "timeout: expected a positive number"),
        ("options:\n  num_ctx: {a: 1}\n", 2, "options.num_ctx"),
        ("keep_alive: forever\n", 1, "keep_alive"),
        ("model: a\nmodel: b\n", 2, "model: duplicate key"),
        ("model: 'unterminated\n", 2, "invalid YAML"),
        ("hosts: ftp://x\n", 1, "hosts"),
        ("actions:\n  status:\n    instruction: x\n", 2, "'status' is a command name"),
        ("actions:\n  new:\n    description: no instruction\n", 2, "needs an 'instruction'"),
        ("actions:\n  fix:\n    options:\n      num_ctx: 8192\n", 4, "load-time option"),
        ("actions:\n  x:\n    instruction: y\n    examples: [{input: a}]\n", 4, "examples"),
        ("- just\n- a list\n", 1, "mapping"),
    ],
)
def test_config_errors_name_file_line_and_key(
    isolated_home: Path, text: str, line: int, mentions: str
) -> None:
    path = write_config(isolated_home, text)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"{path}:{line}: ") or str(caught.value).startswith(
        f"{path}: "
    )
    assert f"{path}:{line}:" in str(caught.value)
    assert mentions in str(caught.value)


def test_a_builtin_action_can_be_partly_overridden(isolated_home: Path) -> None:
    write_config(isolated_home, "actions:\n  fix:\n    model: llama3.2:3b\n")
    fix = load_settings().actions["fix"]
    assert fix.model == "llama3.2:3b"
    assert "spelling" in fix.instruction


def test_a_missing_named_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(Overrides(config=str(tmp_path / "nope.yaml")))


def test_bad_config_exits_2_with_one_line(run_cli: RunCli, isolated_home: Path) -> None:
    path = write_config(isolated_home, "model: qwen\ntimeout: soon\n")
    run = run_cli("fix", input=b"text\n")
    assert run.code == 2
    assert (
        run.stderr.strip() == f"rewrite: {path}:2: timeout: expected a positive number, got 'soon'"
    )
    assert run.stdout == b"text\n"


def test_config_shows_values_and_sources(run_cli: RunCli, isolated_home: Path) -> None:
    path = write_config(isolated_home, "model: llama3.2:3b\n")
    run = run_cli("config", env={"OLLAMA_HOST": "gpu-box:8080"})
    assert run.code == 0, run.stderr
    assert f"# config file: {path}" in run.text
    assert f'model: "llama3.2:3b"  # {path}:1' in run.text
    assert 'hosts: ["http://gpu-box:8080"]  # environment OLLAMA_HOST' in run.text
    assert 'keep_alive: "30m"  # default' in run.text


def test_config_init_writes_a_starter_that_loads(run_cli: RunCli, isolated_home: Path) -> None:
    run = run_cli("config", "--init")
    assert run.code == 0, run.stderr
    path = isolated_home / "config" / "rewrite" / "config.yaml"
    assert run.text.strip() == f"wrote {path}"
    assert "keep_alive: 30m" in path.read_text()
    shown = run_cli("config")
    assert shown.code == 0, shown.stderr
    assert f'model: "qwen2.5:1.5b"  # {path}:' in shown.text
    again = run_cli("config", "--init")
    assert (again.code, "already exists" in again.stderr) == (2, True)
    assert run_cli("config", "--init", "--force").code == 0


def test_rewrite_config_environment_variable(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.yaml"
    path.write_text("model: from-env-file\n")
    run = run_cli("config", env={"REWRITE_CONFIG": str(path)})
    assert 'model: "from-env-file"' in run.text


def test_layers_merge_over_the_file(isolated_home: Path) -> None:
    write_config(
        isolated_home,
        "options: {temperature: 0.2}\nactions:\n  fix: {model: file-model}\n",
    )
    layer = {
        "options": {"num_ctx": 4096},
        "actions": {"fix": {"description": "Fix it"}},
        "lsp": {"prefetch": False},
    }
    settings = load_settings(layers=[("initializationOptions", layer)])
    assert dict(settings.options) == {"num_ctx": 4096, "temperature": 0.2}
    fix = settings.actions["fix"]
    assert (fix.model, fix.description) == ("file-model", "Fix it")
    assert settings.lsp.prefetch is None
    assert settings.source("options") == "initializationOptions"


def test_an_empty_lua_table_counts_as_an_empty_mapping() -> None:
    settings = load_settings(layers=[("initializationOptions", []), ("settings", {"options": []})])
    assert dict(settings.options) == {"num_ctx": 2048, "temperature": 0}


def test_layer_errors_name_the_layer() -> None:
    with pytest.raises(ConfigError, match=r"^initializationOptions: model: expected"):
        load_settings(layers=[("initializationOptions", {"model": 3})])


def test_an_action_declares_what_a_valid_result_looks_like(
    run_cli: RunCli, isolated_home: Path, standin: StandIn
) -> None:
    write_config(
        isolated_home,
        "actions:\n"
        "  letter:\n"
        "    instruction: Rewrite the text as a short letter addressed to {name}.\n"
        "    params: {name: Sam}\n"
        "    profile: {length: longer, content: free}\n"
        "  deutsch:\n"
        "    instruction: Translate the text into {to}.\n"
        "    params: {to: German}\n"
        "    profile: {language: target}\n"
        "  strict:\n"
        "    instruction: Translate the text into German.\n",
    )
    settings = load_settings()
    assert settings.actions["letter"].profile == Profile("longer", "free", "same")
    assert settings.actions["deutsch"].translating
    standin.reply = "Dear Sam,\n\nthe meeting has moved to Monday.\n\nBest regards,\nKim"
    assert run_cli("letter", input="meeting moved to monday\n").code == 0
    standin.reply = "Das Treffen wurde auf Montag verschoben, bitte komm pünktlich."
    assert (
        run_cli("deutsch", input="The meeting was moved to Monday, please be on time.\n").code == 0
    )
    refused = run_cli("strict", input="The meeting was moved to Monday, please be on time.\n")
    assert refused.code == 1 and "language" in refused.stderr  # 'same' is the default


def test_a_bad_profile_names_the_key(isolated_home: Path) -> None:
    path = write_config(
        isolated_home, "actions:\n  x:\n    instruction: Do it.\n    profile: {content: loose}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert f"{path}:4" in str(raised.value) and "expected one of kept, reworded, free" in str(
        raised.value
    )


def test_hosts_take_a_weight_and_models_and_routing_its_own_keys(isolated_home: Path) -> None:
    write_config(
        isolated_home,
        "hosts:\n"
        "  - http://a:11434\n"
        "  - {url: http://b:11434, weight: 2.5, models: [qwen2.5:1.5b]}\n"
        "routing: {hedge: true, hedge_after_ms: 300, warm: 1}\n",
    )
    settings = load_settings()
    first, second = settings.hosts
    assert (first.weight, first.models) == (1.0, ())
    assert (second.weight, second.models) == (2.5, ("qwen2.5:1.5b",))
    assert settings.routing.as_dict() == {"hedge": True, "hedge_after_ms": 300.0, "warm": 1}
    assert load_settings(Overrides(config=None)).routing.warm == 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("hosts: [{url: http://a, weight: 0}]", "hosts.weight: expected a positive number"),
        ("hosts: [{url: http://a, weight: heavy}]", "hosts.weight: expected a positive number"),
        ("hosts: [{url: http://a, models: qwen}]", "hosts.models: expected a list of model"),
        ("routing: {hedge: sometimes}", "routing.hedge: expected true or false"),
        ("routing: {warm: some}", "routing.warm: expected a positive whole number"),
        ("routing: {hedge_after_ms: -5}", "routing.hedge_after_ms: expected a positive number"),
        ("routing: {hedges: true}", "routing.hedges"),
    ],
)
def test_bad_routing_settings_are_config_errors(isolated_home: Path, text: str, says: str) -> None:
    path = write_config(isolated_home, text + "\n")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith(f"{path}:1: {says}")


def test_rewrite_config_names_the_file_it_looked_for_and_what_unset_means(
    run_cli: RunCli, isolated_home: Path
) -> None:
    run = run_cli("config")
    looked = isolated_home / "config" / "rewrite" / "config.yaml"
    assert run.text.splitlines()[0] == (
        f"# config file: none at {looked} (defaults in use; `rewrite config --init` writes one)"
    )
    assert "autostart: null  # default: start `ollama serve` only for http://127.0.0.1:11434" in (
        run.text
    )
