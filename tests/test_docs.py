"""The docs say what the code does: the README against the parsers, the settings schema
and the exit codes; the architecture against the modules."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import RunCli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def options_in(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", text))


def test_every_option_in_help_is_in_the_readme_and_back(run_cli: RunCli) -> None:
    run = run_cli("--help")
    assert run.code == 0
    in_help = options_in(run.text) - {"--help", "--init", "--force"}
    reference = README.split("### Command line reference", 1)[1].split("### Exit codes", 1)[0]
    option_rows = "\n".join(line for line in reference.splitlines() if line.startswith("| `-"))
    in_readme = options_in(option_rows)
    assert in_help == in_readme


def test_the_readme_exit_code_table_matches_help(run_cli: RunCli) -> None:
    run = run_cli("--help")
    codes_in_help = set(re.findall(r"^  (\d+) ", run.text, re.M))
    table = README.split("### Exit codes", 1)[1].split("###", 1)[0]
    codes_in_readme = set(re.findall(r"^\| (\d+) \|", table, re.M))
    expected = {"0", "1", "2", "3", "4", "74", "129", "130", "141", "143"}
    assert codes_in_help == codes_in_readme == expected


def test_config_help_lists_its_options(run_cli: RunCli) -> None:
    run = run_cli("config", "--help")
    assert run.code == 0
    assert {"--init", "--force"} <= options_in(run.text)
    assert "--init" in README and "--force" in README


ROOT = Path(__file__).resolve().parent.parent
COMMON = {"--help", "--host", "--model", "--config", "--version"}


def command_rows() -> dict[str, str]:
    """The README's command table: each command's name, and its row."""
    reference = README.split("### Command line reference", 1)[1].split("### Exit codes", 1)[0]
    rows: dict[str, str] = {}
    for line in reference.splitlines():
        if found := re.match(r"\| `rewrite ([a-z-]+)", line):
            rows[found[1]] = rows.get(found[1], "") + line
    return rows


def test_the_command_table_names_every_command_and_only_those() -> None:
    from rewrite.cli import COMMANDS

    assert set(command_rows()) == set(COMMANDS)


def test_each_commands_options_are_in_its_row_and_accepted(run_cli: RunCli) -> None:
    from rewrite.cli import COMMANDS

    rows = command_rows()
    for command in COMMANDS:
        run = run_cli(command, "--help")
        assert run.code == 0, (command, run.stderr)
        accepted = options_in(run.text)
        shown = options_in(rows[command])
        assert shown <= accepted, (command, shown - accepted)
        assert accepted - COMMON <= shown, (command, accepted - COMMON - shown)


def config_keys_in(text: str) -> set[str]:
    """The top-level keys a YAML example sets (or shows commented out, `# key:`)."""
    return set(re.findall(r"^(?:# )?([a-z_]+):", text, re.M))


def test_the_readme_and_the_starter_file_show_every_config_key() -> None:
    from rewrite.config import _TOP_KEYS
    from rewrite.configdoc import STARTER

    block = README.split("## Configuration", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    assert config_keys_in(block) == set(_TOP_KEYS)
    assert {key for key in config_keys_in(STARTER) if key in _TOP_KEYS} == set(_TOP_KEYS)


def test_the_nested_config_keys_are_in_the_readme() -> None:
    from rewrite.config import (
        _ACTION_KEYS,
        _CACHE_KEYS,
        _HOST_KEYS,
        _LSP_KEYS,
        _PROFILE_KEYS,
        _ROUTING_KEYS,
    )

    for keys in (_CACHE_KEYS, _HOST_KEYS, _LSP_KEYS, _ROUTING_KEYS, _ACTION_KEYS, _PROFILE_KEYS):
        missing = [key for key in keys if not re.search(rf"\b{key}\b", README)]
        assert missing == []


def test_the_json_error_shape_is_documented_and_kept(run_cli: RunCli) -> None:
    from tests.standin import unused_url

    assert '`{"error": "the one line", "exit_code": N}`' in README
    run = run_cli("fix", "--json", input="their going\n", env={"OLLAMA_HOST": unused_url()})
    import json

    answer = json.loads(run.stdout)
    assert set(answer) == {"error", "exit_code"} and answer["exit_code"] == run.code == 3


def test_the_architecture_names_every_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = [*ROOT.joinpath("rewrite").glob("*.py"), *ROOT.joinpath("lsp").glob("*.py")]
    assert [m.name for m in modules if f"`{m.name}`" not in text] == []
    assert "(later)" not in text and "models.json" not in text
