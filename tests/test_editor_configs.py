"""The ready-made configurations in editor-configs/ for editors that cannot run here: each one
parses as its editor reads it and starts rewrite-lsp where its README says. The VS Code
extension is activated in Node with stand-ins for the `vscode` modules, and the legacy
nvim-lspconfig file is loaded in a headless Neovim with stand-ins for nvim-lspconfig.
Emacs has tests of its own (test_emacs.py), Neovim's rewrite.lua too (test_neovim.py), and
Vim's rewrite.vim (test_vim.py).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_neovim import nvim_binary

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest depends on tomli before Python 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "editor-configs"
NODE = shutil.which("node")
REWRITE = {"name": "rewrite", "only-features": ["code-action"]}

needs_node = pytest.mark.skipif(
    NODE is None, reason="Node.js is not installed (Debian: apt-get install nodejs)"
)


def strip_line_comments(text: str) -> str:
    """Sublime Text settings allow `//` comment lines; JSON does not."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))


@pytest.mark.parametrize("editor", ["helix", "emacs", "vscode", "zed", "sublime", "kakoune", "vim"])
def test_every_editor_has_a_readme_that_says_what_was_tested(editor: str) -> None:
    readme = (CONFIGS / editor / "README.md").read_text(encoding="utf-8")
    assert "## What was tested" in readme
    assert "rewrite-lsp" in readme


# ----------------------------------------------------------------------------- Helix


def helix() -> dict[str, Any]:
    return tomllib.loads((CONFIGS / "helix" / "languages.toml").read_text(encoding="utf-8"))


def test_helix_defines_the_server() -> None:
    server = helix()["language-server"]["rewrite"]
    assert server["command"] == "rewrite-lsp"
    assert server["args"] == []
    assert server["config"] == {}  # initializationOptions: the config file stays in charge


def test_helix_adds_rewrite_for_code_actions_beside_the_default_servers() -> None:
    languages = {language["name"]: language for language in helix()["language"]}
    assert {"text", "markdown", "git-commit", "python", "rust", "javascript", "typescript"} <= set(
        languages
    ), languages.keys()
    assert {"go", "c"} <= set(languages)
    for name, language in languages.items():
        servers = language["language-servers"]
        assert servers[-1] == REWRITE, name
        if name != "text":  # Helix has no such language: nothing to keep
            assert all(isinstance(server, str) for server in servers[:-1]), name
            assert len(servers) >= 2, f"{name}: the default servers were not kept"
    assert languages["markdown"]["language-servers"][0] == "marksman"
    assert languages["text"]["file-types"] == ["txt"]


def test_helix_readme_warns_that_a_list_replaces_the_defaults() -> None:
    readme = (CONFIGS / "helix" / "README.md").read_text(encoding="utf-8")
    assert "replaces Helix's default list" in readme
    assert "hx --health" in readme


# --------------------------------------------------------------------------- VS Code

VSCODE = CONFIGS / "vscode"


def test_vscode_package_json_declares_the_extension() -> None:
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    assert manifest["name"] == "rewrite-lsp-client"
    assert manifest["displayName"] and manifest["publisher"]
    assert manifest["engines"]["vscode"] == "^1.85.0"
    assert manifest["main"] == "./extension.js"
    assert "onStartupFinished" in manifest["activationEvents"]
    assert manifest["dependencies"] == {"vscode-languageclient": "^9.0.1"}
    properties = manifest["contributes"]["configuration"]["properties"]
    assert properties["rewrite.serverPath"]["default"] == "rewrite-lsp"
    assert properties["rewrite.settings"]["type"] == "object"
    commands = {command["command"] for command in manifest["contributes"]["commands"]}
    bound = {binding["command"] for binding in manifest["contributes"]["keybindings"]}
    assert "rewrite.fix" in commands and "rewrite.fix" in bound
    assert "editor.action.codeAction" in bound
    assert (VSCODE / ".vscodeignore").is_file()


def test_vscode_readme_has_no_relative_links() -> None:
    """vsce refuses to package a README whose relative links it cannot resolve."""
    readme = (VSCODE / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)]+)\)", readme)
    assert all(link.startswith(("http://", "https://", "#")) for link in links), links


@needs_node
def test_vscode_extension_is_valid_javascript() -> None:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--check", str(VSCODE / "extension.js")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@needs_node
def test_vscode_extension_activates_and_deactivates_with_stubbed_vscode() -> None:
    assert NODE is not None
    script = Path(__file__).resolve().parent / "vscode_stub" / "activate.js"
    done = subprocess.run(
        [NODE, str(script), str(VSCODE / "extension.js")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok", done.stdout


# ------------------------------------------------------------------------------- Zed

ZED = CONFIGS / "zed"


def test_zed_extension_registers_the_server() -> None:
    manifest = tomllib.loads((ZED / "extension.toml").read_text(encoding="utf-8"))
    assert manifest["schema_version"] == 1
    assert manifest["id"] and manifest["version"]
    languages = manifest["language_servers"]["rewrite"]["languages"]
    assert {"Markdown", "Plain Text", "Python"} <= set(languages)


def test_zed_crate_builds_a_cdylib_on_the_extension_api() -> None:
    cargo = tomllib.loads((ZED / "Cargo.toml").read_text(encoding="utf-8"))
    assert cargo["lib"]["crate-type"] == ["cdylib"]
    assert "zed_extension_api" in cargo["dependencies"]
    source = (ZED / "src" / "lib.rs").read_text(encoding="utf-8")
    assert '"rewrite-lsp"' in source
    assert "fn language_server_command" in source
    assert "zed::register_extension!" in source


# --------------------------------------------------------------------------- Sublime


@pytest.mark.parametrize(
    ("name", "options_key"),
    [
        ("LanguageServers.sublime-settings", "initialization_options"),
        ("LSP.sublime-settings", "initializationOptions"),
    ],
)
def test_sublime_settings_start_the_server(name: str, options_key: str) -> None:
    text = (CONFIGS / "sublime" / name).read_text(encoding="utf-8")
    settings = json.loads(strip_line_comments(text))
    client = settings["clients"]["rewrite"] if "clients" in settings else settings["rewrite"]
    assert client["enabled"] is True
    assert client["command"] == ["rewrite-lsp"]
    selectors = {part.strip() for part in client["selector"].split("|")}
    assert {"text.html.markdown", "text.plain", "source"} <= selectors
    assert client[options_key] == {}
    assert client["settings"] == {"rewrite": {}}


# --------------------------------------------------------------------------- Kakoune

KAKOUNE = CONFIGS / "kakoune"


def test_kakoune_server_entry_is_toml_for_kakoune_lsp() -> None:
    kakrc = (KAKOUNE / "rewrite.kak").read_text(encoding="utf-8")
    entry = re.search(r"str lsp_server_rewrite %\{\n(.*?)\n\}", kakrc, re.S)
    assert entry, "no lsp_server_rewrite option"
    server = tomllib.loads(entry.group(1))["rewrite"]
    assert server["command"] == "rewrite-lsp"
    assert server["settings_section"] == "rewrite"
    assert server["settings"] == {"rewrite": {}}
    hook = re.search(r"BufSetOption filetype=\(\?:([^)]*)\)", kakrc)
    assert hook and {"markdown", "text", "python"} <= set(hook.group(1).split("|"))
    assert "set-option -add buffer lsp_servers %opt{lsp_server_rewrite}" in kakrc
    assert "global user r ':lsp-code-actions<ret>'" in kakrc
    assert "lsp-code-action '^Rewrite( paragraph)?: fix spelling'" in kakrc


def test_kakoune_readme_example_for_older_kak_lsp_parses() -> None:
    readme = (KAKOUNE / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(.*?)```", readme, re.S)
    assert block
    server = tomllib.loads(block.group(1))["language_server"]["rewrite"]
    assert server["command"] == "rewrite-lsp"
    assert "markdown" in server["filetypes"]


# ------------------------------------------------------- Neovim: legacy nvim-lspconfig

# Arguments: the config file, the result file. nvim-lspconfig's modules are stand-ins that
# record what the file does with them.
LSPCONFIG_SCRIPT = r"""
local config_file, result = unpack(arg, 1, 2)
local configs, setups, roots = {}, {}, {}
package.preload['lspconfig.configs'] = function() return configs end
package.preload['lspconfig.util'] = function()
  return {
    root_pattern = function(...)
      table.insert(roots, { ... })
      return function() return nil end
    end,
  }
end
package.preload['lspconfig'] = function()
  return setmetatable({}, {
    __index = function(_, name)
      return { setup = function(opts) table.insert(setups, { name = name, opts = opts }) end }
    end,
  })
end
vim.g.mapleader = ' '
vim.g.rewrite_lsp_cmd = { 'python3', '-m', 'rewrite_lsp' }
vim.g.rewrite_lsp_setup = { init_options = { model = 'qwen2.5:3b' } }
local M = dofile(config_file)

vim.lsp.get_client_by_id = function(id)
  return { id = id, name = id == 1 and 'rewrite' or 'other' }
end
local ours = vim.api.nvim_create_buf(true, false)
local theirs = vim.api.nvim_create_buf(true, false)
vim.api.nvim_exec_autocmds('LspAttach', { buffer = ours, data = { client_id = 1 } })
vim.api.nvim_exec_autocmds('LspAttach', { buffer = theirs, data = { client_id = 2 } })
local function keys(buf)
  return vim.api.nvim_buf_call(buf, function()
    return {
      menu = vim.fn.maparg('<leader>rr', 'n') ~= '',
      fix = vim.fn.maparg('<leader>rf', 'x') ~= '',
    }
  end)
end
local config = configs.rewrite.default_config
vim.fn.writefile({ vim.json.encode({
  cmd = config.cmd,
  filetypes = config.filetypes,
  single_file_support = config.single_file_support,
  roots = roots,
  setups = setups,
  ours = keys(ours),
  theirs = keys(theirs),
  functions = { type(M.menu), type(M.fix), type(M.run) },
}) }, result)
"""


def test_lspconfig_lua_registers_and_sets_up_the_server(tmp_path: Path) -> None:
    script = tmp_path / "drive.lua"
    script.write_text(LSPCONFIG_SCRIPT, encoding="utf-8")
    result = tmp_path / "result.json"
    config = CONFIGS / "neovim" / "lspconfig.lua"
    done = subprocess.run(
        [str(nvim_binary()), "--headless", "--clean", "-l", str(script), str(config), str(result)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(result.read_text(encoding="utf-8"))
    assert report["cmd"] == ["python3", "-m", "rewrite_lsp"]
    assert {"markdown", "text", "gitcommit", "python"} <= set(report["filetypes"])
    assert report["single_file_support"] is True
    assert report["roots"] == [[".git"]]
    assert report["setups"] == [
        {"name": "rewrite", "opts": {"init_options": {"model": "qwen2.5:3b"}}}
    ]
    assert report["ours"] == {"menu": True, "fix": True}
    assert report["theirs"] == {"menu": False, "fix": False}
    assert report["functions"] == ["function", "function", "function"]
