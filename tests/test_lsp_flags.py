"""`rewrite lsp` takes --host, --model and --config like every command, and they win."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types

from tests.conftest import _command, write_config
from tests.lsp_client import capabilities, make_client
from tests.standin import ModelSpec, StandIn, unused_url
from tests.test_lsp_hardening import Client, offered, press

ASYNC = pytest.mark.asyncio(loop_scope="function")


async def start_with(*flags: str, ollama_host: str = "") -> Client:
    client = make_client()
    editor = Client(client)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        return editor.on_apply(params)

    command = [sys.executable, "-m", "rewrite", "lsp", *flags]
    await client.start_io(*command, env={**os.environ, "OLLAMA_HOST": ollama_host})
    await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities("neovim"),
            initialization_options={"lsp": {"prefetch": False}},
        )
    )
    return editor


@ASYNC
async def test_host_and_model_flags_win(standin: StandIn, isolated_home: Path) -> None:
    standin.add_model(ModelSpec("llama3.2:3b"))
    standin.reply = "Their going."
    write_config(isolated_home, "actions:\n  fix:\n    model: llama3.2:3b\n")
    flags = ("--host", standin.url, "--model", "qwen2.5:1.5b")
    editor = await start_with(*flags, ollama_host=unused_url())  # the flag wins over it too
    try:
        editor.open("file:///a.md", "their going\n")
        where = types.Range(types.Position(0, 0), types.Position(0, 11))
        await press(editor, await offered(editor, "file:///a.md", where), "one")
        assert await editor.ended("one") == "applied"
        assert standin.chat_requests()[-1].body["model"] == "qwen2.5:1.5b"
    finally:
        await editor.client.shutdown_session()


@ASYNC
async def test_the_config_flag_names_the_file(standin: StandIn, tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.yaml"
    config.write_text(f"hosts: [{standin.url}]\n")
    standin.reply = "Their going."
    editor = await start_with("--config", str(config))
    try:
        editor.open("file:///a.md", "their going\n")
        where = types.Range(types.Position(0, 0), types.Position(0, 11))
        await press(editor, await offered(editor, "file:///a.md", where), "one")
        assert await editor.ended("one") == "applied"
    finally:
        await editor.client.shutdown_session()


def test_a_bad_flag_is_one_line_and_exit_2() -> None:
    done = subprocess.run([*_command(), "lsp", "--colour"], capture_output=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr == b"rewrite: unrecognized arguments: --colour (see rewrite-lsp --help)\n"
