"""Language-server latency through a real stdio client, against the zero-latency stand-in.

    python bench/lsp_latency.py [--requests 1000] [--record]

For each request: a codeAction on a fresh sentence (timed), then its fix command, timed
from sending executeCommand to receiving workspace/applyEdit. The server logs each
rewrite's engine time (the request to the stand-in, clean-up, guard); the server-side
overhead is the command-to-edit time minus that and minus the floor: the round trip of a
codeAction the server declines at once, which is what the Python test client and the
pipes cost on their own. A second pass lets the prefetch (started
by the codeAction) finish before choosing the action. The server's RSS is read before and
after the run.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lsprotocol import types  # noqa: E402

from bench.common import machine, publish, rss_kib  # noqa: E402
from bench.common import parser as bench_parser  # noqa: E402
from tests.lsp_client import SERVER_COMMAND, make_client  # noqa: E402
from tests.standin import StandIn  # noqa: E402

URI = "file:///bench/notes.md"
ENGINE_MS = re.compile(r"rewrite fix in ([\d.]+) ms")


class Session:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.version = 1
        self.edit = asyncio.Event()

    async def code_action(self, line: str) -> tuple[float, Any]:
        self.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(self.version, URI),
                [types.TextDocumentContentChangeWholeDocument(line + "\n")],
            )
        )
        params = types.CodeActionParams(
            types.TextDocumentIdentifier(URI),
            types.Range(types.Position(0, 0), types.Position(0, len(line))),
            types.CodeActionContext(diagnostics=[]),
        )
        started = time.perf_counter()
        offered = await self.client.text_document_code_action_async(params)
        elapsed = (time.perf_counter() - started) * 1000
        fix = next(a for a in offered if a.command.arguments[0]["action"] == "fix")
        return elapsed, fix.command

    async def declined(self) -> float:
        """A codeAction the server declines at once (kind filter): the round trip's floor."""
        params = types.CodeActionParams(
            types.TextDocumentIdentifier(URI),
            types.Range(types.Position(0, 0), types.Position(0, 1)),
            types.CodeActionContext(diagnostics=[], only=["quickfix"]),
        )
        started = time.perf_counter()
        await self.client.text_document_code_action_async(params)
        return (time.perf_counter() - started) * 1000

    async def execute(self, command: Any) -> float:
        self.edit.clear()
        started = time.perf_counter()
        await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command.command, command.arguments)
        )
        await asyncio.wait_for(self.edit.wait(), 10)
        return (time.perf_counter() - started) * 1000


async def start(standin: StandIn, env: dict[str, str], prefetch: bool) -> Session:
    client = make_client()
    session = Session(client)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        session.edit.set()
        return types.ApplyWorkspaceEditResult(applied=True)

    await client.start_io(*SERVER_COMMAND, env={**env, "OLLAMA_HOST": standin.url})
    await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(
                workspace=types.WorkspaceClientCapabilities(apply_edit=True)
            ),
            initialization_options={"lsp": {"prefetch": "fix" if prefetch else False}},
        )
    )
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(URI, "markdown", 1, "x\n"))
    )
    return session


async def measure(
    standin: StandIn, env: dict[str, str], count: int, prefetch: bool
) -> dict[str, Any]:
    session = await start(standin, env, prefetch)
    pid = session.client._server.pid
    actions, commands, floors, rss = [], [], [], []
    await session.execute((await session.code_action("warm up the path"))[1])
    for n in range(count):
        if n in (0, count // 2):
            rss.append(rss_kib(pid))
        floors.append(await session.declined())
        line = f"sentence number {n} {'prefetched' if prefetch else 'fresh'} for the bench"
        elapsed, command = await session.code_action(line)
        actions.append(elapsed)
        if prefetch:  # let the prefetch finish, as when a person reads the menu
            done = sum(1 for r in standin.chat_requests() if r.completed)
            target = done + 1
            deadline = time.monotonic() + 5
            while sum(1 for r in standin.chat_requests() if r.completed) < target:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.001)
        commands.append(await session.execute(command))
    rss.append(rss_kib(pid))
    await session.client.shutdown_session()
    logged = (ENGINE_MS.search(m.message) for m in session.client.log_messages)
    engine = [float(found.group(1)) for found in logged if found][-count:]
    overhead = [c - e for c, e in zip(commands, engine, strict=False)]
    return {
        "actions": actions,
        "floors": floors,
        "commands": commands,
        "overhead": overhead,
        "rss": rss,
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(count: int, fresh: dict[str, Any], prefetched: dict[str, Any]) -> str:
    def row(name: str, values: list[float], target: str) -> str:
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        return f"| {name} | {p50:.2f} | {p99:.2f} | {target} |"

    rows = [
        "| measurement | p50 ms | p99 ms | target |",
        "|---|---|---|---|",
        row("codeAction round trip, 7 actions offered", fresh["actions"], ""),
        row("codeAction round trip, declined at once (the floor)", fresh["floors"], ""),
        row(
            "... the answer's own share (round trip − floor)",
            [a - f for a, f in zip(fresh["actions"], fresh["floors"], strict=True)],
            "≤ 1 p50",
        ),
        row("executeCommand → applyEdit, total", fresh["commands"], ""),
        row("... minus the engine's own time", fresh["overhead"], ""),
        row(
            "... and minus the floor: the server's overhead",
            [o - f for o, f in zip(fresh["overhead"], fresh["floors"], strict=True)],
            "≤ 2 p50, ≤ 10 p99",
        ),
        row("prefetched action: executeCommand → applyEdit", prefetched["commands"], "≤ 5 p50"),
    ]
    before, middle, after = fresh["rss"]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return (
        f"### Language server, {stamp}\n\nMachine: {machine()}. {count} requests each pass "
        f"through a stdio client; zero-latency stand-in.\n\n" + "\n".join(rows) + "\n\n"
        f"Server RSS over the {count} fresh requests: {before / 1024:.1f} MiB at the start, "
        f"{middle / 1024:.1f} MiB half-way, {after / 1024:.1f} MiB at the end.\n"
    )


async def main_async(count: int) -> str:
    with (
        StandIn(reply="They're going to the store.") as standin,
        tempfile.TemporaryDirectory() as home,
    ):
        env = {**os.environ, "XDG_CACHE_HOME": f"{home}/cache", "XDG_CONFIG_HOME": f"{home}/config"}
        fresh = await measure(standin, env, count, prefetch=False)
        prefetched = await measure(standin, env, count, prefetch=True)
    return report(count, fresh, prefetched)


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    text = asyncio.run(main_async(args.requests))
    publish(text, args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
