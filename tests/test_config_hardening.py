"""The config file against values the engine cannot use, YAML aliases and odd paths."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from rewrite import config
from rewrite.config import (
    MAX_ALIAS_EXPANSION,
    MAX_CONFIG_BYTES,
    Overrides,
    Settings,
    load_settings,
    parse_yaml,
)
from rewrite.errors import ConfigError
from rewrite.options import MODEL_OPTIONS
from tests.conftest import RunCli, write_config
from tests.standin import StandIn

# The alias bomb from the brief: 16 levels, under 1 KB, 2**16 values when expanded.
ALIAS_BOMB = "".join(
    f"l{n}: &l{n} [x, x]\n" if n == 0 else f"l{n}: &l{n} [*l{n - 1}, *l{n - 1}]\n"
    for n in range(16)
)


def settings_and_warnings(path: Path | None = None, **kwargs: Any) -> tuple[Settings, list[str]]:
    warnings: list[str] = []
    overrides = Overrides(config=str(path)) if path else None
    return load_settings(overrides, warn=warnings.append, **kwargs), warnings


def error_of(**kwargs: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        load_settings(**kwargs)
    return str(raised.value)


# Option values the engine cannot use


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("options:\n  temperature: hot\n", 2, "options.temperature: expected a number, got 'hot'"),
        ("options:\n  num_ctx: big\n", 2, "options.num_ctx: expected a whole number, got 'big'"),
        (
            "options:\n  num_ctx: 2048.5\n",
            2,
            "options.num_ctx: expected a whole number, got 2048.5",
        ),
        ("options: {num_ctx: 0}\n", 1, "options.num_ctx: expected a whole number of at least 1"),
        ("options: {num_ctx: true}\n", 1, "options.num_ctx: expected a whole number, got true"),
        ("options: {seed: 1.0e+30}\n", 1, "options.seed: expected a whole number that fits in 64"),
        (
            "options: {temperature: -0.5}\n",
            1,
            "options.temperature: expected a number of at least 0",
        ),
        ("options: {temperature: true}\n", 1, "options.temperature: expected a number, got true"),
        (
            "options: {temperature: .nan}\n",
            1,
            "options.temperature: expected a finite number, got nan",
        ),
        ("options: {top_p: 1.5}\n", 1, "options.top_p: expected a number from 0 to 1, got 1.5"),
        ("options: {mirostat: 3}\n", 1, "options.mirostat: expected a whole number from 0 to 2"),
        ("options: {use_mmap: 1}\n", 1, "options.use_mmap: expected true or false, got 1"),
        ("options: {stop: [a, 1]}\n", 1, "options.stop: expected a string or a list of strings"),
        ("options: {stop: ''}\n", 1, "options.stop: expected a string or a list of strings"),
        ("options: {stop: {a: b}}\n", 1, "options.stop: expected a string or a list of strings"),
        ("options: {1: 2}\n", 1, "options.1: expected an option name, got 1"),
        ("options: {mine: {a: 1}}\n", 1, "options.mine: expected a number, string or list of"),
        ("options: {mine: .inf}\n", 1, "options.mine: expected a finite number, got inf"),
        (
            "actions:\n  fix:\n    options:\n      temperature: hot\n",
            4,
            "actions.fix.options.temperature: expected a number, got 'hot'",
        ),
        ("actions:\n  fix:\n    options: 5\n", 3, "actions.fix.options: expected a mapping"),
        ("actions:\n  fix:\n    options: [num_ctx]\n", 3, "actions.fix.options: expected a map"),
    ],
)
def test_option_values_the_server_cannot_use_are_config_errors(
    isolated_home: Path, text: str, line: int, message: str
) -> None:
    path = write_config(isolated_home, text)
    assert error_of().startswith(f"{path}:{line}: {message}")


def test_option_values_in_an_editor_layer_are_checked_too() -> None:
    layer = ("initializationOptions", {"options": {"num_ctx": "big"}})
    assert error_of(layers=[layer]) == (
        "initializationOptions: options.num_ctx: expected a whole number, got 'big'"
    )


def test_usable_option_values_load_as_the_server_wants_them(isolated_home: Path) -> None:
    write_config(
        isolated_home,
        "options:\n"
        "  num_ctx: 4096.0\n"  # whole: sent as the integer it is
        "  temperature: 1\n"  # an integer where a number is wanted is fine
        "  top_p: 0.9\n"
        "  presence_penalty: -1.5\n"
        "  num_predict: -1\n"
        "  use_mmap: false\n"
        '  stop: ["###", "\\n\\n"]\n'
        "actions:\n"
        "  fix:\n"
        "    options: {stop: END, seed: 7}\n",
    )
    settings = load_settings()
    assert dict(settings.options) == {
        "num_ctx": 4096,
        "temperature": 1,
        "top_p": 0.9,
        "presence_penalty": -1.5,
        "num_predict": -1,
        "use_mmap": False,
        "stop": ["###", "\n\n"],
    }
    assert type(settings.options["num_ctx"]) is int
    assert dict(settings.actions["fix"].options) == {"stop": "END", "seed": 7}


def test_a_bad_option_value_exits_2_with_one_line_and_the_text_kept(
    run_cli: RunCli, isolated_home: Path
) -> None:
    path = write_config(isolated_home, "options:\n  temperature: hot\n")
    run = run_cli("fix", input=b"their going\n")
    assert run.code == 2
    assert (
        run.stderr.strip()
        == f"rewrite: {path}:2: options.temperature: expected a number, got 'hot'"
    )
    assert run.stdout == b"their going\n"


PLAIN_DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)


@given(name=st.sampled_from(sorted(MODEL_OPTIONS)), value=PLAIN_DATA)
def test_any_option_value_loads_as_its_kind_or_is_a_config_error(name: str, value: Any) -> None:
    try:
        sent = load_settings(layers=[("layer", {"options": {name: value}})]).options[name]
    except ConfigError as error:
        assert str(error).startswith(f"layer: options.{name}: expected ")
        return
    kind = MODEL_OPTIONS[name][0]
    wanted = {"whole": (int,), "number": (int, float), "flag": (bool,), "stop": (str, list)}[kind]
    assert isinstance(sent, wanted)
    assert kind == "flag" or not isinstance(sent, bool)


# Unknown option names: a warning with a close match, and the value sent as it is


def test_an_unknown_option_is_a_warning_with_a_close_match(isolated_home: Path) -> None:
    path = write_config(isolated_home, "model: m\noptions:\n  tempreature: 0.2\n")
    settings, warnings = settings_and_warnings()
    assert warnings == [
        f"{path}:3: options.tempreature: not a model option Ollama knows "
        "(did you mean 'temperature'?); sent as it is"
    ]
    assert settings.options["tempreature"] == 0.2


def test_unknown_options_in_actions_and_layers_are_warnings_too(isolated_home: Path) -> None:
    path = write_config(isolated_home, "actions:\n  fix:\n    options: {top_pp: 0.5}\n")
    layer = ("initializationOptions", {"options": {"zzzz": 1}})
    settings, warnings = settings_and_warnings(layers=[layer])
    assert warnings == [
        f"{path}:3: actions.fix.options.top_pp: not a model option Ollama knows "
        "(did you mean 'top_p'?); sent as it is",
        "initializationOptions: options.zzzz: not a model option Ollama knows; sent as it is",
    ]
    assert settings.options["zzzz"] == 1


def test_without_a_warn_callback_unknown_options_load_quietly(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(isolated_home, "options: {tempreature: 0.2}\n")
    assert load_settings().options["tempreature"] == 0.2
    assert capsys.readouterr() == ("", "")


def test_no_warnings_are_told_when_the_settings_fail_to_load(isolated_home: Path) -> None:
    write_config(isolated_home, "options: {tempreature: 0.2}\ntimeout: soon\n")
    warnings: list[str] = []
    with pytest.raises(ConfigError, match="timeout"):
        load_settings(warn=warnings.append)
    assert warnings == []


def test_many_warnings_end_in_a_count(isolated_home: Path) -> None:
    write_config(isolated_home, "options:\n" + "".join(f"  mine{n}: {n}\n" for n in range(25)))
    _, warnings = settings_and_warnings()
    assert len(warnings) == 11
    assert warnings[-1] == "and 15 more warnings about the settings"


# YAML aliases


def test_the_alias_bomb_is_refused_at_once(isolated_home: Path) -> None:
    assert len(ALIAS_BOMB.encode()) < 1024
    path = write_config(isolated_home, ALIAS_BOMB)
    message = error_of()
    assert message.startswith(f"{path}:12: YAML aliases expand to more than 10,000 values")


def test_a_bomb_of_mappings_is_refused_before_the_line_pass(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def line_pass(*args: Any) -> None:
        pytest.fail("the key-line pass ran over an alias bomb")

    monkeypatch.setattr(config, "_key_lines", line_pass)
    bomb = "".join(
        f"  l{n}: &l{n} {{x: 1, y: 1}}\n"
        if n == 0
        else f"  l{n}: &l{n} {{x: *l{n - 1}, y: *l{n - 1}}}\n"
        for n in range(30)
    )
    path = write_config(isolated_home, "options:\n" + bomb)
    message = error_of()
    assert message.startswith(f"{path}:")
    assert "YAML aliases expand" in message


@pytest.mark.parametrize(
    "text", ["a: &a [*a]\n", "options: &o {x: *o}\n", "actions: &a\n  x:\n    - *a\n"]
)
def test_an_alias_inside_what_it_names_is_refused(isolated_home: Path, text: str) -> None:
    path = write_config(isolated_home, text)
    message = error_of()
    assert message.startswith(f"{path}:")
    assert "a YAML alias refers to a node that contains it" in message


def test_aliases_within_the_bound_load() -> None:
    items = ", ".join(["x"] * 49)
    uses = ", ".join(["*s"] * (MAX_ALIAS_EXPANSION // 50))  # 50 nodes each: at the bound
    data, _ = parse_yaml(f"s: &s [{items}]\nt: [{uses}]\n", "f.yaml")
    assert len(data["t"]) == MAX_ALIAS_EXPANSION // 50
    with pytest.raises(ConfigError, match=r"^f\.yaml:2: YAML aliases expand"):
        parse_yaml(f"s: &s [{items}]\nt: [{uses}, *s]\n", "f.yaml")


def test_merge_keys_share_an_action_template(isolated_home: Path) -> None:
    write_config(
        isolated_home,
        "actions:\n"
        "  plain: &plain\n"
        "    description: Plain words\n"
        "    instruction: Rewrite the text in plain words.\n"
        "  plainer:\n"
        "    <<: *plain\n"
        "    instruction: Rewrite the text in the plainest words.\n",
    )
    plainer = load_settings().actions["plainer"]
    assert (plainer.description, plainer.instruction) == (
        "Plain words",
        "Rewrite the text in the plainest words.",
    )


def test_key_lines_stay_short_however_deep_the_document() -> None:
    depth = 900
    text = "{a: " * depth + "{k: 1, k: 2}" + "}" * depth + "\n"
    with pytest.raises(ConfigError, match=r"^deep\.yaml:1: a\.a\.a\.a\.…\.k: duplicate key"):
        parse_yaml(text, "deep.yaml")
    _, lines = parse_yaml("{a: " * depth + "{k: 1}" + "}" * depth + "\n", "deep.yaml")
    assert max(len(key) for key in lines) == 5


def test_the_pure_python_parser_is_held_to_the_same_bounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    with pytest.raises(ConfigError, match="YAML aliases expand"):
        parse_yaml(ALIAS_BOMB, "bomb.yaml")
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_yaml("[" * 5000 + "]" * 5000, "deep.yaml")


def test_a_file_at_the_size_bound_loads(isolated_home: Path) -> None:
    # How long such a file takes to load is measured by bench/config_load.py.
    line = "      - {input: in 00000, output: out 00000}\n"
    count = (MAX_CONFIG_BYTES - 100) // len(line)
    examples = "".join(f"      - {{input: in {n:05}, output: out {n:05}}}\n" for n in range(count))
    write_config(isolated_home, "actions:\n  x:\n    instruction: y\n    examples:\n" + examples)
    assert len(load_settings().actions["x"].examples) == count


# Config paths that are not a regular file, or too big


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
@pytest.mark.parametrize("named", [True, False])
def test_a_named_pipe_is_refused_without_waiting(isolated_home: Path, named: bool) -> None:
    pipe = isolated_home / "config" / "rewrite" / "config.yaml"
    pipe.parent.mkdir(parents=True)
    os.mkfifo(pipe)
    outcome: list[str] = []
    worker = threading.Thread(
        target=lambda: outcome.append(
            error_of(overrides=Overrides(config=str(pipe) if named else None))
        ),
        daemon=True,
    )
    worker.start()
    worker.join(5)
    if worker.is_alive():  # let the blocked open() go, then fail
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("loading the settings waited on a named pipe")
    assert outcome == [f"{pipe}: the config file is not a regular file but a named pipe"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_put_in_place_after_the_check_is_refused_too(
    isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    regular = (tmp_path / "regular.yaml").resolve()
    regular.write_text("model: m\n")
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, *a, **k: real_stat(regular))  # the race lost
    outcome: list[str] = []
    overrides = Overrides(config=str(pipe))
    worker = threading.Thread(target=lambda: outcome.append(error_of(overrides=overrides)))
    worker.daemon = True
    worker.start()
    worker.join(5)
    if worker.is_alive():
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("loading the settings waited on a named pipe")
    assert outcome == [f"{pipe}: the config file is not a regular file but a named pipe"]


@pytest.mark.parametrize("named", [True, False])
def test_a_directory_is_refused(isolated_home: Path, named: bool) -> None:
    folder = isolated_home / "config" / "rewrite" / "config.yaml"
    folder.mkdir(parents=True)
    overrides = Overrides(config=str(folder) if named else None)
    assert error_of(overrides=overrides) == (
        f"{folder}: the config file is not a regular file but a directory"
    )


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null here")
def test_a_device_is_refused() -> None:
    assert error_of(overrides=Overrides(config="/dev/null")) == (
        "/dev/null: the config file is not a regular file but a device"
    )


def test_a_config_file_over_the_size_bound_is_refused(isolated_home: Path) -> None:
    path = write_config(isolated_home, "# padding\n" * (MAX_CONFIG_BYTES // 10) + "model: m\n")
    assert error_of() == f"{path}: the config file is larger than 1,024 KiB: is it the right file?"
    path.write_text("model: m\n" + "#" * (MAX_CONFIG_BYTES - 10) + "\n")
    assert path.stat().st_size == MAX_CONFIG_BYTES
    assert load_settings().model == "m"


def test_a_symlink_to_a_config_file_is_followed(isolated_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "real.yaml"
    target.write_text("model: linked\n")
    link = isolated_home / "config" / "rewrite" / "config.yaml"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    assert load_settings().model == "linked"


def test_invalid_utf8_is_a_config_error(isolated_home: Path) -> None:
    path = write_config(isolated_home, "model: m\n")
    path.write_bytes(b"model: \xff\n")
    assert error_of().startswith(f"{path}: cannot read the config file: ")


def test_an_unreadable_file_is_a_config_error(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(isolated_home, "model: m\n")
    real_open = os.open

    def denied(name: Any, *args: Any, **kwargs: Any) -> int:
        if os.fspath(name) == str(path):
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    assert error_of() == f"{path}: cannot read the config file: Permission denied"


def test_the_cli_warns_of_an_unknown_option_once_and_still_rewrites(
    run_cli: RunCli, isolated_home: Path, standin: StandIn
) -> None:
    path = write_config(isolated_home, f"hosts: [{standin.url}]\noptions:\n  tempreature: 0.2\n")
    run = run_cli("fix", input=b"their going too the store\n", env={"OLLAMA_HOST": ""})
    assert run.code == 0
    assert run.stderr.splitlines() == [
        f"rewrite: warning: {path}:3: options.tempreature: not a model option Ollama knows"
        " (did you mean 'temperature'?); sent as it is"
    ]
    assert run.stdout != b""
    assert standin.chat_requests()[-1].body["options"]["tempreature"] == 0.2
