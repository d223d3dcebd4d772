"""The README's command-line reference says what `rewrite --help` says."""

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
