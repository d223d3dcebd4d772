"""The language server's round trip next to the smallest pygls server doing the same job.

    python bench/lsp_roundtrip.py [--rounds 300] [--warmup 20] [--block 10] [--record]

Two servers run side by side against one zero-latency stand-in (in this process, answering
each request with the user's text capitalized and with a full stop): the project's
`python -m rewrite_lsp` (initializationOptions {"lsp": {"prefetch": false}}) and
`bench/minimal_lsp.py`, the smallest pygls server that does the same job (one blocking
/api/chat request, one versioned applyEdit; no cache, guard or clean-up). Each is driven
by a raw JSON-RPC client over its stdio pipes (Content-Length framing, as bench/lsp_soak.py
writes it; not pytest-lsp) that advertises workspace.applyEdit, documentChanges and UTF-16
positions, and opens a 30-line document.

One round, the same for both servers:

1. didChange: one line of the document becomes a new sentence (an incremental change; the
   text is new every round, so the project's cache cannot answer);
2. codeAction for that line, sent at once after the didChange: its time, from writing the
   request to reading the answer, so it includes the server's handling of the didChange;
3. executeCommand with the first action's command (fix), and the time until the server's
   workspace/applyEdit request arrives; the round trip is from writing the didChange to
   that arrival;
4. the client answers `applied: true`, then sends the edit's didChange, as an editor does,
   and waits for the executeCommand's answer, for the project's server the log line that
   ends its job, and then for the answer to one more request (a codeAction for `quickfix`
   only): pygls handles a connection's messages in order, so the server has then handled
   the applyEdit answer and the didChange too, and no work of one round runs into the next
   one's clock (a person's pause between two rewrites gives an editor's server that time).
   Without this wait the minimal server, which answers executeCommand before it reads the
   applyEdit answer, is still reading the last round's messages when the next codeAction
   comes, and its codeAction time doubles.

The table also gives executeCommand → applyEdit alone (step 3). The project answers with
CodeAction literals, the minimal server with bare Commands; the client takes either.

Fairness: both servers are started before any measurement and stay up the whole run; after
--warmup unmeasured rounds each, the --rounds measured rounds go in blocks of --block
rounds, alternating the servers with the order of each pair of blocks reversed (A B, B A,
A B, ...), so that drift and bursts of machine noise fall on both alike.

Targets: the project's codeAction p50 within 1.5x the minimal server's; its round-trip p50
within 1 ms of the minimal server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import machine, publish  # noqa: E402
from bench.common import parser as bench_parser  # noqa: E402
from bench.lsp_soak import fix_reply, fixed  # noqa: E402
from tests.standin import StandIn  # noqa: E402

URI = "file:///bench/roundtrip.md"
LINES = 30
ENDED = re.compile(r"rewrite \S+ \[(.+?)\]: (.*)")
CAPABILITIES: dict[str, Any] = {
    "general": {"positionEncodings": ["utf-16"]},
    "workspace": {"applyEdit": True, "workspaceEdit": {"documentChanges": True}},
    "textDocument": {
        "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["refactor"]}}}
    },
}
WORDS = [
    "their",
    "going",
    "too",
    "the",
    "store",
    "tomorow",
    "becuase",
    "its",
    "raining",
    "and",
    "the",
    "car",
    "is",
    "broke",
]


def sentence(n: int) -> str:
    """A sloppy sentence, new for every n (so no cache can answer it)."""
    words = [WORDS[(n * 7 + k * 3) % len(WORDS)] for k in range(9)]
    return " ".join([*words[:5], str(n), *words[5:]])


class Server:
    """One language server process and an editor's view of its one document."""

    def __init__(self, name: str, command: list[str], options: Any, logs_outcomes: bool) -> None:
        self.name = name
        self.command = command
        self.options = options
        self.logs_outcomes = logs_outcomes  # the project's server logs each job's end
        self.process: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task[None] | None = None
        self.ids = itertools.count(1)
        self.waiting: dict[str, asyncio.Future[Any]] = {}
        self.edits: asyncio.Queue[tuple[Any, dict[str, Any]]] = asyncio.Queue()
        self.ended: dict[str, str] = {}
        self.ended_event = asyncio.Event()
        self.lines = [sentence(-n - 1) + "." for n in range(LINES)]
        self.version = 1
        self.faults: list[str] = []
        self.code_actions: list[float] = []
        self.commands: list[float] = []  # executeCommand sent -> applyEdit arrived
        self.round_trips: list[float] = []

    # ------------------------------------------------------------------ the wire

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def request(self, method: str, params: Any) -> tuple[str, asyncio.Future[Any]]:
        rid = f"c{next(self.ids)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting[rid] = future
        self.send({"id": rid, "method": method, "params": params})
        return rid, future

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    async def read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        with contextlib.suppress(asyncio.IncompleteReadError):  # the server has gone
            while header := await stdout.readuntil(b"\r\n\r\n"):
                length = re.search(rb"Content-Length: *(\d+)", header, re.I)
                assert length is not None, header
                self.receive(json.loads(await stdout.readexactly(int(length.group(1)))))

    def receive(self, message: dict[str, Any]) -> None:
        if "method" not in message:
            future = self.waiting.pop(str(message.get("id")), None)
            if future is None or "error" in message:
                self.faults.append(f"unexpected or error response: {message}")
            if future is not None and not future.done():
                future.set_result(message.get("result"))
        elif message["method"] == "workspace/applyEdit":
            self.edits.put_nowait((message["id"], message["params"]))
        elif "id" in message:  # configuration, registrations: answered at once
            self.send({"id": message["id"], "result": None})
        elif message["method"] == "window/logMessage":
            if found := ENDED.fullmatch(message["params"]["message"]):
                self.ended[found.group(1)] = found.group(2)
                self.ended_event.set()
        elif message["method"] == "window/showMessage":
            self.faults.append(f"message shown: {message['params']['message']}")

    # ------------------------------------------------------------------ the session

    async def start(self, env: dict[str, str]) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        self.reader = asyncio.get_running_loop().create_task(self.read())
        params = {
            "processId": os.getpid(),
            "rootUri": None,
            "capabilities": CAPABILITIES,
            "initializationOptions": self.options,
        }
        answered = self.request("initialize", params)[1]
        exited = asyncio.ensure_future(self.process.wait())
        await asyncio.wait([answered, exited], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        exited.cancel()
        if not answered.done():
            raise RuntimeError(
                f"{self.name} did not answer initialize (exit code {self.process.returncode})"
            )
        self.notify("initialized", {})
        item = {"uri": URI, "languageId": "markdown", "version": 1, "text": self.text}
        self.notify("textDocument/didOpen", {"textDocument": item})

    async def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.request("shutdown", None)[1], 10)
            self.notify("exit", None)
            await asyncio.wait_for(self.process.wait(), 10)
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        if self.reader is not None:
            self.reader.cancel()

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def change(self, line: int, new: str) -> None:
        """Replace one line's text and tell the server, as an incremental didChange."""
        where = {
            "start": {"line": line, "character": 0},
            "end": {"line": line, "character": utf16(self.lines[line])},
        }
        self.lines[line] = new
        self.version += 1
        self.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": URI, "version": self.version},
                "contentChanges": [{"range": where, "text": new}],
            },
        )

    async def round(self, n: int, measured: bool) -> None:
        line = n % LINES
        new = sentence(n)
        started = time.perf_counter()
        self.change(line, new)
        where = {
            "start": {"line": line, "character": 0},
            "end": {"line": line, "character": utf16(new)},
        }
        params = {"textDocument": {"uri": URI}, "range": where, "context": {"diagnostics": []}}
        asked = time.perf_counter()
        offered = await asyncio.wait_for(self.request("textDocument/codeAction", params)[1], 10)
        answered = time.perf_counter()
        first = offered[0]
        command = first["command"] if isinstance(first.get("command"), dict) else first
        pressed = time.perf_counter()
        rid, executed = self.request(
            "workspace/executeCommand",
            {"command": command["command"], "arguments": command["arguments"]},
        )
        edit_id, edit = await asyncio.wait_for(self.edits.get(), 10)
        arrived = time.perf_counter()
        self.check(edit, line, new)
        self.send({"id": edit_id, "result": {"applied": True}})
        (change,) = edit["edit"]["documentChanges"]
        (text_edit,) = change["edits"]
        self.change(line, text_edit["newText"])
        await asyncio.wait_for(executed, 10)
        if self.logs_outcomes:
            await self.job_end(rid)
        await self.barrier()
        if measured:
            self.code_actions.append((answered - asked) * 1000)
            self.commands.append((arrived - pressed) * 1000)
            self.round_trips.append((arrived - started) * 1000)

    async def barrier(self) -> None:
        """A request both servers answer at once: once its answer is in, the server has
        handled every message sent before it (the applyEdit answer, the edit's didChange)."""
        where = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}}
        context = {"diagnostics": [], "only": ["quickfix"]}
        params = {"textDocument": {"uri": URI}, "range": where, "context": context}
        await asyncio.wait_for(self.request("textDocument/codeAction", params)[1], 10)

    def check(self, edit: dict[str, Any], line: int, old: str) -> None:
        (change,) = edit["edit"]["documentChanges"]
        (text_edit,) = change["edits"]
        expected = {
            "start": {"line": line, "character": 0},
            "end": {"line": line, "character": utf16(old)},
        }
        if change["textDocument"]["version"] != self.version:
            self.faults.append(f"edit for version {change['textDocument']['version']}")
        if text_edit["range"] != expected or text_edit["newText"] != fixed(old):
            self.faults.append(f"unexpected edit {text_edit}")

    async def job_end(self, rid: str) -> None:
        deadline = time.monotonic() + 10
        while rid not in self.ended:
            self.ended_event.clear()
            await asyncio.wait_for(self.ended_event.wait(), deadline - time.monotonic())
        outcome = self.ended.pop(rid)
        if outcome != "applied":
            self.faults.append(f"job {rid}: {outcome}")


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(rounds: int, warmup: int, block: int, standin: StandIn) -> list[Server]:
    project = Server(
        "project (`python -m rewrite_lsp`)",
        [sys.executable, "-m", "rewrite_lsp"],
        {"lsp": {"prefetch": False}},
        logs_outcomes=True,
    )
    minimal = Server(
        "minimal pygls (`bench/minimal_lsp.py`)",
        [sys.executable, str(ROOT / "bench" / "minimal_lsp.py")],
        None,
        logs_outcomes=False,
    )
    servers = [project, minimal]
    env = {**os.environ, "OLLAMA_HOST": standin.url}
    env.pop("REWRITE_CONFIG", None)
    try:
        for server in servers:
            await server.start(env)
        for n in range(warmup):
            for server in servers:
                await server.round(n, measured=False)
        done = 0
        for index in itertools.count():
            if done >= rounds:
                break
            size = min(block, rounds - done)
            for server in servers if index % 2 == 0 else servers[::-1]:
                for n in range(warmup + done, warmup + done + size):
                    await server.round(n, measured=True)
            done += size
    finally:
        for server in servers:
            await server.stop()
    return servers


def report(command: str, rounds: int, project: Server, minimal: Server) -> str:
    def cells(values: list[float]) -> str:
        return f"{percentile(values, 0.5):.2f} | {percentile(values, 0.95):.2f}"

    rows = [
        "| server | codeAction p50 ms | p95 ms | executeCommand → applyEdit p50 ms | p95 ms "
        "| round trip p50 ms | p95 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for server in (project, minimal):
        rows.append(
            f"| {server.name} | {cells(server.code_actions)} | {cells(server.commands)} "
            f"| {cells(server.round_trips)} |"
        )
    ratio = percentile(project.code_actions, 0.5) / percentile(minimal.code_actions, 0.5)
    extra = percentile(project.round_trips, 0.5) - percentile(minimal.round_trips, 0.5)
    verdicts = [
        "| comparison | measured | target | met |",
        "|---|---|---|---|",
        f"| codeAction p50, project / minimal | {ratio:.2f}x | ≤ 1.5x | "
        f"{'yes' if ratio <= 1.5 else 'no'} |",
        f"| round trip p50, project − minimal | {extra:+.2f} ms | ≤ 1 ms | "
        f"{'yes' if extra <= 1.0 else 'no'} |",
    ]
    faults = [f"{s.name}: {len(s.faults)} ({s.faults[0]})" for s in (project, minimal) if s.faults]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return (
        f"### Language server round trip against a minimal pygls server, {stamp}\n\n"
        f"Machine: {machine()}. Zero-latency stand-in; {rounds} measured rounds per server "
        f"through a raw stdio client, alternating in blocks.\n\n`{command}`\n\n"
        + "\n".join(rows)
        + "\n\n"
        + "\n".join(verdicts)
        + "\n\n"
        + (f"Faults: {'; '.join(faults)}.\n" if faults else "No faults: every edit as expected.\n")
    )


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--block", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        for variable in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            os.environ[variable] = os.path.join(home, variable.lower())
        with StandIn(reply=fix_reply) as standin:
            project, minimal = asyncio.run(measure(args.rounds, args.warmup, args.block, standin))
    command = f"python bench/lsp_roundtrip.py --rounds {args.rounds}"
    if (args.warmup, args.block) != (20, 10):
        command += f" --warmup {args.warmup} --block {args.block}"
    publish(report(command, args.rounds, project, minimal), args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
