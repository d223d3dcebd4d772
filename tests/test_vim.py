"""A real editor: Vim 9 with the shipped editor-configs/vim/rewrite.vim.

The filter keys run in a headless Vim (`vim -Es`, no vimrc), which sources the file, types
the keys with `:normal` and writes the buffer and its messages to files. The code action
menu needs ALE's LSP client, which runs on Vim's channels and timers and asks with input():
that runs in a real Vim in tmux with ALE loaded as Debian's vim-ale installs it
(`packadd! ale`), keys sent with `tmux send-keys` and the screen read back with
`tmux capture-pane`, as tests/test_shell_widgets.py does for the shells.

`rewrite` and `rewrite-lsp` come from this environment, on a PATH of their own; the Ollama
stand-in plays the model. Vim, vim-ale and tmux come from the system (Debian: apt-get install
vim vim-ale tmux); a test is skipped only when one it needs is not installed.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.standin import ModelSpec, StandIn, echo_text, unused_url
from tests.test_shell_widgets import Pane

CONFIG = Path(__file__).resolve().parent.parent / "editor-configs" / "vim" / "rewrite.vim"
DOCUMENT = ["# Notes", "", "their going too the store", "", "Bye."]
REPLY = "They're going to the store."
REWRITTEN = ["# Notes", "", REPLY, "", "Bye."]
DEADLINE = 15.0  # seconds for Vim to show or write something
VIM = shutil.which("vim")

pytestmark = pytest.mark.skipif(
    VIM is None, reason="Vim is not installed (Debian: apt-get install vim)"
)


@functools.cache
def ale_loads() -> bool:
    """Whether `packadd ale` finds ALE on Vim's default 'packpath' (Debian's vim-ale)."""
    assert VIM is not None
    check = ["silent! packadd ale", "if !exists(':ALECodeAction') | cquit 1 | endif", "qall!"]
    done = subprocess.run(
        [VIM, "-Es", "-N", "-u", "NONE", "-i", "NONE", "-n", *(f"+{c}" for c in check)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=DEADLINE,
    )
    return done.returncode == 0


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """`rewrite` and `rewrite-lsp` from this environment, under the names the file uses."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, module in (("rewrite", "rewrite"), ("rewrite-lsp", "rewrite_lsp")):
        script = Path(sys.executable).with_name(name)
        if script.exists():
            (folder / name).symlink_to(script)
        else:
            wrapper = folder / name
            wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m {module} "$@"\n')
            wrapper.chmod(0o755)
    return folder


def environment(bin_dir: Path, ollama: str) -> dict[str, str]:
    """What Vim gets: our PATH, the isolated home (XDG_*), the stand-in's address."""
    return {
        "HOME": os.environ["HOME"],
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "PATH": f"{bin_dir}{os.pathsep}{os.defpath}",
        "OLLAMA_HOST": ollama,
        **{name: os.environ[name] for name in os.environ if name.startswith("XDG_")},
    }


def sent_texts(standin: StandIn) -> list[str]:
    return [
        r.body["messages"][-1]["content"]
        for r in standin.chat_requests()
        if r.body and r.body.get("messages")  # the language server's warm-up sends none
    ]


def assert_only_the_line_was_sent(standin: StandIn) -> None:
    sent = sent_texts(standin)
    assert sent and all("their going too the store" in text for text in sent), sent
    assert all("Bye." not in text and "# Notes" not in text for text in sent), sent


# --------------------------------------------------------------- the filter, headless

# The keys go in with :normal (not :normal!), so the mappings apply; `\` is <Leader>.
FILTER_SCRIPT = r"""
set nocompatible
source {config}
edit {document}
execute "normal {keys}"
call writefile(getline(1, '$'), '{result}/after')
call writefile(split(execute('messages'), "\n"), '{result}/messages')
normal u
call writefile(getline(1, '$'), '{result}/undone')
qall!
"""


def drive_filter(tmp_path: Path, bin_dir: Path, ollama: str, keys: str) -> dict[str, Any]:
    assert VIM is not None
    document = tmp_path / "draft.md"
    document.write_text("\n".join(DOCUMENT) + "\n", encoding="utf-8")
    result = tmp_path / "result"
    result.mkdir()
    script = tmp_path / "filter.vim"
    script.write_text(
        FILTER_SCRIPT.format(config=CONFIG, document=document, keys=keys, result=result),
        encoding="utf-8",
    )
    done = subprocess.run(
        [VIM, "-Es", "-N", "-u", "NONE", "-i", "NONE", "-n", "-S", str(script)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environment(bin_dir, ollama),
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, f"vim exited {done.returncode}: {done.stdout}{done.stderr}"
    return {
        name: (result / name).read_text(encoding="utf-8").splitlines()
        for name in ("after", "messages", "undone")
    }


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param(r"3GV\\rf", id="selected-lines"),
        pytest.param(r"3Gw\\rf", id="paragraph-at-the-cursor"),
    ],
)
def test_the_fix_key_rewrites_the_lines_and_one_undo_restores_them(
    tmp_path: Path, bin_dir: Path, standin: StandIn, keys: str
) -> None:
    standin.reply = REPLY
    report = drive_filter(tmp_path, bin_dir, standin.url, keys)
    assert report["after"] == REWRITTEN, report
    assert not [line for line in report["messages"] if line.startswith("rewrite:")]
    assert report["undone"] == DOCUMENT
    assert_only_the_line_was_sent(standin)


def test_with_no_server_the_fix_key_keeps_the_text_and_says_why(
    tmp_path: Path, bin_dir: Path, isolated_home: Path
) -> None:
    report = drive_filter(tmp_path, bin_dir, unused_url(), r"3GV\\rf")
    assert report["after"] == DOCUMENT
    (said,) = [line for line in report["messages"] if line.startswith("rewrite:")]
    assert "no Ollama server answers at" in said and said.endswith("the text is unchanged")
    assert not (isolated_home / "state" / "rewrite" / "rewrite.log").exists()


# ------------------------------------------------------- a real Vim in tmux: ALE, the list

VIMRC = """\
set nocompatible
filetype plugin on
set shortmess+=I
{ale}
source {config}
"""


class Vim:
    """Vim in tmux, editing the document; `buffer()` asks Vim for the lines."""

    def __init__(self, pane: Pane, folder: Path) -> None:
        self.pane = pane
        self.folder = folder
        self.dumps = 0

    def keys(self, *keys: str) -> None:
        self.pane.press(*keys)

    def screen(self) -> str:
        return "\n".join(self.pane.lines())

    def wait_for(self, *texts: str) -> str:
        shown = self.pane.wait(
            f"the screen to show {texts}", lambda lines: all(t in "\n".join(lines) for t in texts)
        )
        return "\n".join(shown)

    def buffer(self) -> list[str]:
        """The buffer's lines, as Vim writes them to a file on request."""
        self.dumps += 1
        dump = self.folder / f"buffer-{self.dumps}"
        partial = dump.with_suffix(".partial")  # renamed when complete: never read half
        self.pane.type(
            f":call writefile(getline(1, '$'), '{partial}') | call rename('{partial}', '{dump}')"
        )
        self.pane.press("Enter")
        deadline = time.monotonic() + DEADLINE
        while not dump.exists():
            if time.monotonic() > deadline:
                pytest.fail(f"Vim did not write the buffer\n--- screen ---\n{self.screen()}")
            time.sleep(0.05)
        return dump.read_text(encoding="utf-8").splitlines()


VimFactory = Callable[..., Vim]


@pytest.fixture
def open_vim(tmux_socket: str, bin_dir: Path, tmp_path: Path) -> VimFactory:
    def start(ollama: str, ale: bool, document: list[str] = DOCUMENT, vimrc: str = "") -> Vim:
        assert VIM is not None
        if ale and not ale_loads():
            pytest.skip("ALE is not installed (Debian: apt-get install vim-ale)")
        ale_line = "packadd! ale" if ale else ""
        settings = tmp_path / "vimrc"
        settings.write_text(VIMRC.format(ale=ale_line, config=CONFIG) + vimrc, encoding="utf-8")
        path = tmp_path / "draft.md"
        path.write_text("\n".join(document) + "\n", encoding="utf-8")
        pane = Pane(tmux_socket)
        command = [VIM, "-N", "-n", "-i", "NONE", "-u", str(settings), str(path)]
        pane.start(command, environment(bin_dir, ollama))
        vim = Vim(pane, tmp_path)
        vim.wait_for("Bye.", "draft.md")
        return vim

    return start


def test_ales_code_action_applies_the_rewrite_of_the_selection_in_one_undo_step(
    open_vim: VimFactory, standin: StandIn
) -> None:
    """ALE's own command and prompt, as typed: `V`, then `:` (which gives '<,'>); and
    rewrite's settings from the vimrc."""
    standin.add_model(ModelSpec("llama3.2:3b"))
    standin.reply = REPLY
    vim = open_vim(
        standin.url, ale=True, vimrc="let g:rewrite_lsp_settings = {'model': 'llama3.2:3b'}"
    )
    vim.keys("3G", "V", ":")
    vim.pane.type("ALECodeAction")
    vim.keys("Enter")
    vim.wait_for("Code Fixes:", "1) Rewrite: fix spelling and grammar", "Type number and <Enter>")
    vim.keys("1", "Enter")
    assert vim.buffer() == REWRITTEN
    assert_only_the_line_was_sent(standin)
    assert {r.body["model"] for r in standin.chat_requests()} == {"llama3.2:3b"}
    vim.keys("u")
    assert vim.buffer() == DOCUMENT


# Quotes, a dash and umlauts before the words to fix: more bytes than UTF-16 code units.
WIDE = ["# Notes", "", "“Grüße” — their going too the store", "", "Bye."]


def fix_words(body: dict[str, Any]) -> str:
    return (
        echo_text(body["messages"][-1]["content"])
        .replace("their", "they're")
        .replace("too the", "to the")
    )


def test_the_menu_key_rewrites_where_the_text_is_in_one_undo_step(
    open_vim: VimFactory, standin: StandIn
) -> None:
    standin.reply = fix_words
    vim = open_vim(standin.url, ale=True, document=WIDE)
    fixed_line = "“Grüße” — they're going to the store"

    vim.keys("3G", "V", "\\", "r", "r")  # the line
    vim.wait_for("1) Rewrite: fix spelling and grammar", "Type number and <Enter>")
    vim.keys("1", "Enter")
    assert vim.buffer() == [*WIDE[:2], fixed_line, *WIDE[3:]]
    assert sent_texts(standin)[-1].endswith("\n\n" + WIDE[2])
    vim.keys("u")
    assert vim.buffer() == WIDE

    vim.keys("3G", "0", "f", "t", "v", "e", "\\", "r", "r")  # the word "their"
    vim.wait_for("1) Rewrite: fix spelling and grammar")
    vim.keys("1", "Enter")
    assert vim.buffer() == [*WIDE[:2], "“Grüße” — they're going too the store", *WIDE[3:]]
    assert sent_texts(standin)[-1].endswith("\n\ntheir")
    vim.keys("u")
    assert vim.buffer() == WIDE

    vim.keys("3G", "w", "\\", "r", "r")  # normal mode: the paragraph at the cursor
    vim.wait_for("1) Rewrite paragraph: fix spelling and grammar")
    vim.keys("1", "Enter")
    assert vim.buffer() == [*WIDE[:2], fixed_line, *WIDE[3:]]


def test_the_menu_key_replaces_nothing_when_the_text_changed_meanwhile(
    open_vim: VimFactory, standin: StandIn
) -> None:
    standin.reply = REPLY
    vim = open_vim(standin.url, ale=True)
    standin.first_token_delay = 1.5  # the rewrite takes a while: time to type
    vim.keys("3G", "V", "\\", "r", "r", "A")
    vim.pane.type(" now")
    vim.keys("Escape")
    changed = [*DOCUMENT[:2], DOCUMENT[2] + " now", *DOCUMENT[3:]]
    # The server drops the edit if it heard of the change in time (an empty menu), else the
    # file refuses it when chosen.
    screen = vim.pane.wait(
        "an empty menu or a menu",
        lambda lines: any("no rewrite is ready" in line or "Type number" in line for line in lines),
    )
    if any("Type number" in line for line in screen):
        vim.keys("1", "Enter")
        vim.wait_for("rewrite: the text changed after the menu was asked for")
    assert vim.buffer() == changed


def test_with_no_server_the_menu_key_says_so_and_keeps_the_text(open_vim: VimFactory) -> None:
    vim = open_vim(unused_url(), ale=True)
    vim.keys("3G", "V", "\\", "r", "r")
    vim.wait_for("rewrite: no rewrite is ready")
    assert vim.buffer() == DOCUMENT


def test_the_pick_key_lists_the_actions_and_rewrites_with_the_one_chosen(
    open_vim: VimFactory, standin: StandIn
) -> None:
    standin.reply = REPLY
    vim = open_vim(standin.url, ale=False)
    vim.keys("3G", "V", "\\", "r", "a")
    screen = vim.wait_for("Rewrite with:", "Type number and <Enter> or click with the mouse")
    (fix,) = [line.split(".")[0].strip() for line in screen.splitlines() if " fix " in line]
    vim.keys(*fix, "Enter")
    assert vim.buffer() == REWRITTEN
    assert_only_the_line_was_sent(standin)
    assert sent_texts(standin)[-1].startswith("Text to correct:")  # what `fix` sends


# ------------------------------------------------------------- registration, headless

REGISTER_SCRIPT = r"""
set nocompatible
let g:ale_linters = {{'python': ['ruff']}}
packadd ale
source {config}
doautocmd rewrite_register VimEnter
let s:names = {{}}
for s:filetype in ['text', 'markdown', 'gitcommit', 'python', 'rust', 'yaml']
  let s:names[s:filetype] = map(ale#linter#Get(s:filetype), 'v:val.name')
endfor
let s:linter = filter(ale#linter#GetAll(['markdown']), 'v:val.name is# "rewrite"')[0]
call writefile([json_encode({{
      \ 'names': s:names,
      \ 'ale_linters': g:ale_linters,
      \ 'lsp': s:linter.lsp,
      \ 'executable': s:linter.executable(1),
      \ 'command': s:linter.command(1),
      \ 'keys': [maparg('<Leader>rr', 'x'), maparg('<Leader>rf', 'n'), maparg('<Leader>ra', 'x')],
      \ }})], '{result}')
qall!
"""


def test_the_file_registers_the_server_with_ale_where_ale_would_run_it(tmp_path: Path) -> None:
    assert VIM is not None
    if not ale_loads():
        pytest.skip("ALE is not installed (Debian: apt-get install vim-ale)")
    result = tmp_path / "result.json"
    script = tmp_path / "register.vim"
    script.write_text(REGISTER_SCRIPT.format(config=CONFIG, result=result), encoding="utf-8")
    done = subprocess.run(
        [VIM, "-Es", "-N", "-u", "NONE", "-i", "NONE", "-n", "-S", str(script)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, f"vim exited {done.returncode}: {done.stdout}{done.stderr}"
    report = json.loads(result.read_text(encoding="utf-8"))
    names = report["names"]
    assert names["text"] == ["rewrite"]  # ALE runs no linter for text unless told
    assert "rewrite" in names["markdown"] and "rewrite" in names["gitcommit"]
    assert sorted(names["python"]) == ["rewrite", "ruff"]  # the user's list, ours added
    assert "rewrite" not in names["rust"]  # ALE's fixed list for Rust: README says so
    assert "rewrite" not in names["yaml"]
    assert report["ale_linters"] == {"python": ["ruff", "rewrite"], "text": ["rewrite"]}
    assert (report["lsp"], report["executable"], report["command"]) == (
        "stdio",
        "rewrite-lsp",
        "%e",
    )
    assert all(report["keys"]), report["keys"]


def test_ales_own_code_action_lands_right_on_a_line_with_wide_characters(
    open_vim: VimFactory, standin: StandIn
) -> None:
    """ALE counts bytes where LSP counts UTF-16 units: the server's whole-line edits start
    and end at column 0, which is the same in both."""
    standin.reply = fix_words
    vim = open_vim(standin.url, ale=True, document=WIDE)
    vim.keys("3G", "V", ":")  # the line, whose end ALE gives in bytes
    vim.pane.type("ALECodeAction")
    vim.keys("Enter")
    vim.wait_for("1) Rewrite: fix spelling and grammar", "Type number and <Enter>")
    vim.keys("1", "Enter")
    assert vim.buffer() == [*WIDE[:2], "“Grüße” — they're going to the store", *WIDE[3:]]
    vim.keys("u")
    assert vim.buffer() == WIDE
