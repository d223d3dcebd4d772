"""Three GPU servers under load, through real HTTP: stand-ins with 2 slots (4 for the host
of weight 2) and a per-token delay. Every request succeeds and each host serves its weight's
share; a host killed mid-run costs nothing but its share, is seen down, and comes back; a
host slow to its first token is raced and its stream closed."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from rewrite.hostbook import LONGEST_COOLDOWN, HostBook
from tests.conftest import RunCli, _command, write_config
from tests.lsp_client import SERVER_COMMAND, capabilities, make_client
from tests.standin import StandIn
from tests.test_lsp_hardening import Client, offered, press
from tests.test_several_hosts import fix_reply, fixed

WEIGHTS = (1, 1, 2)
TOKEN_DELAY = 0.01


@pytest.fixture
def three() -> Iterator[list[StandIn]]:
    servers = [
        StandIn(reply=fix_reply, token_delay=TOKEN_DELAY, slots=2 * weight).start()
        for weight in WEIGHTS
    ]
    yield servers
    for server in servers:
        server.stop()


def pool_config(home: Path, servers: list[StandIn], extra: str = "") -> Path:
    entries = "".join(
        f"  - {{url: {server.url}, weight: {weight}}}\n"
        for server, weight in zip(servers, WEIGHTS, strict=True)
    )
    return write_config(home, "hosts:\n" + entries + extra)


def rewrites(server: StandIn) -> int:
    return len([r for r in server.chat_requests() if r.body and r.body.get("messages")])


def assert_shares(servers: list[StandIn], total: int) -> None:
    """Every host served within ±25 % of its weight's share of `total`."""
    served = [rewrites(server) for server in servers]
    assert sum(served) >= total
    for count, weight in zip(served, WEIGHTS, strict=True):
        share = total * weight / sum(WEIGHTS)
        assert 0.75 * share <= count <= 1.25 * share, served


def texts(count: int) -> list[str]:
    return [f"note {n} about the river and the old mill\n" for n in range(count)]


def cli_runs(inputs: list[str]) -> list[subprocess.CompletedProcess[bytes]]:
    """Every input rewritten by its own `rewrite fix` process, all started at once."""
    environment = {**os.environ, "OLLAMA_HOST": ""}
    processes = [
        subprocess.Popen(
            [*_command(), "fix"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
        )
        for _ in inputs
    ]
    done = []
    for process, text in zip(processes, inputs, strict=True):
        stdout, stderr = process.communicate(text.encode(), timeout=120)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return done


def test_a_hundred_cli_processes_share_three_hosts_by_weight(
    three: list[StandIn], run_cli: RunCli, isolated_home: Path
) -> None:
    pool_config(isolated_home, three)
    assert run_cli("warm", env={"OLLAMA_HOST": ""}).code == 0
    inputs = texts(100)
    for run, text in zip(cli_runs(inputs), inputs, strict=True):
        assert (run.returncode, run.stdout.decode()) == (0, fixed(text.strip()) + "\n"), run.stderr
    assert_shares(three, 100)
    assert all(server.max_active <= server.slots for server in three if server.slots)


def test_a_host_killed_mid_run_costs_nothing_and_comes_back(
    three: list[StandIn], run_cli: RunCli, isolated_home: Path
) -> None:
    pool_config(isolated_home, three)
    assert run_cli("warm", env={"OLLAMA_HOST": ""}).code == 0
    victim = three[0]
    victim_url = victim.url
    killer = threading.Thread(
        target=lambda: (victim.wait_for(lambda: rewrites(victim) >= 5, 60), victim.stop())
    )
    killer.start()
    inputs = texts(60)
    runs = cli_runs(inputs)
    killer.join()
    for run, text in zip(runs, inputs, strict=True):
        assert (run.returncode, run.stdout.decode()) == (0, fixed(text.strip()) + "\n"), run.stderr
    status = run_cli("status", env={"OLLAMA_HOST": ""})
    assert victim_url in status.text
    victim_block = status.text.split(victim_url, 1)[1].split("\n\n", 1)[0]
    assert "state      down until" in victim_block
    victim.start()  # restarted on the same port: it comes back by itself
    before, n = rewrites(victim), 0
    give_up = time.monotonic() + LONGEST_COOLDOWN + 15  # its cooldown passes, then it is asked
    while rewrites(victim) == before and time.monotonic() < give_up:
        run = run_cli("fix", input=f"after the restart {n}\n", env={"OLLAMA_HOST": ""})
        assert run.code == 0, run.stderr
        n += 1
    assert rewrites(victim) > before


@pytest.mark.asyncio(loop_scope="function")
async def test_three_hundred_rewrites_from_the_language_server_share_the_hosts(
    three: list[StandIn],
) -> None:
    hosts = [
        {"url": server.url, "weight": weight} for server, weight in zip(three, WEIGHTS, strict=True)
    ]
    editor = await start_editor({"hosts": hosts, "lsp": {"prefetch": False}})
    try:
        uris = [f"file:///load/doc{n}.md" for n in range(300)]
        commands = []
        for n, uri in enumerate(uris):
            editor.open(uri, f"note {n} about the river\n")
            commands.append(await offered(editor, uri, _line()))
        for n, command in enumerate(commands):
            await press(editor, command, f"r{n}")
        for n in range(300):
            assert await editor.ended(f"r{n}") == "applied"
        assert all(
            editor.texts[uri] == f"Note {n} about the river.\n" for n, uri in enumerate(uris)
        )
        assert_shares(three, 300)
    finally:
        await editor.client.shutdown_session()


def _line() -> types.Range:
    return types.Range(types.Position(0, 0), types.Position(0, 200))


async def start_editor(options: Any) -> Client:
    client = make_client()
    editor = Client(client)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        return editor.on_apply(params)

    await client.start_io(*SERVER_COMMAND, env={**os.environ, "OLLAMA_HOST": ""})
    await client.initialize_session(
        types.InitializeParams(capabilities=capabilities("neovim"), initialization_options=options)
    )
    return editor


def test_a_host_slow_to_its_first_token_is_raced_and_left(
    run_cli: RunCli, isolated_home: Path
) -> None:
    with (
        StandIn(reply=fix_reply, first_token_delay=5.0) as slow,
        StandIn(reply=fix_reply) as quick,
    ):
        write_config(
            isolated_home,
            f"hosts: [{slow.url}, {quick.url}]\nrouting: {{hedge: true, hedge_after_ms: 100}}\n",
        )
        HostBook(str(isolated_home / "cache" / "rewrite")).answered(slow.url, "qwen2.5:1.5b", None)
        run = run_cli("fix", input="their going\n", env={"OLLAMA_HOST": ""})
        assert (run.code, run.text) == (0, "Their going.\n"), run.stderr
        assert len(slow.chat_requests()) == 1 and len(quick.chat_requests()) == 1
        slow.wait_for(lambda: slow.chat_requests()[0].disconnected, 10)  # it stops generating
        assert slow.served == 0 or not slow.chat_requests()[0].completed
