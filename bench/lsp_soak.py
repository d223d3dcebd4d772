"""A soak of the language server through a raw JSON-RPC client over stdio, against the stand-in.

    python bench/lsp_soak.py [--rewrites 1000] [--seeds 1,2,3]

The client is written here from the wire up (Content-Length framed JSON-RPC, not pytest-lsp)
and behaves like an editor: it holds each document's text, applies each edit it accepts and
reports it with didChange (before its answer, after it, or later, as a debouncing editor
does). Against `python -m rewrite_lsp` and a stand-in whose replies are real fixes of their
inputs, it runs a seeded random mix: codeAction + executeCommand, duplicate presses,
$/cancelRequest, typing elsewhere and over a rewrite's text (incremental and whole-document
changes), typing between the offer and the press, didClose/didOpen, and applyEdit answered
`applied: true` or, now and then, `applied: false`. It counts:

- stale: an applyEdit for a version the server knew was gone (it had answered a request sent
  after that version's change, or close), or a second edit for a version the client applied;
- raced (no fault): the client changed the document while the edit was on its way; answered
  `applied: false`, as a version-checking editor does;
- on changed text: the text under an edit's range is not what a pending rewrite of that
  document started from, or the new text is not its fix;
- unanswered requests after shutdown, rewrites that never ended, errors the server logged;
- the server's RSS at the start, the middle and the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import machine, rss_kib  # noqa: E402
from tests.standin import StandIn, echo_text  # noqa: E402

SERVER = [sys.executable, "-m", "rewrite_lsp"]
OUTCOME = re.compile(r"rewrite \S+ \[(.+?)\]: (.*)")
FIRST = ["maple", "river", "quiet", "seven", "paper", "lantern", "harbor", "winter", "copper"]
WORDS = [*FIRST, "sings", "near", "the", "old", "mill", "café", "naïve", "über", "😀", "日本"]
ZEROS = ("stale", "unanswered", "on changed text", "never ended", "server errors")
PROTOCOL_ERRORS = ("error responses", "unexpected responses")  # also zero
SHOWN = ("rewrites", "duplicate presses", "cancels", "close and open", "edits sent", "applied")


def fixed(text: str) -> str:
    """The stand-in's fix: the first letter capitalized and a full stop added."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def fix_reply(body: dict[str, Any]) -> str:
    return fixed(echo_text(body["messages"][-1]["content"]))


def position(text: str, index: int) -> dict[str, int]:
    """A UTF-16 LSP position (the soak's own, independent of the server's positions.py)."""
    start = text.rfind("\n", 0, index) + 1
    units = len(text[start:index].encode("utf-16-le")) // 2
    return {"line": text.count("\n", 0, index), "character": units}


def index_of(text: str, where: dict[str, int]) -> int:
    start = 0
    for _ in range(where["line"]):
        start = text.find("\n", start) + 1 or len(text)
    end = text.find("\n", start)
    index, units, end = start, 0, len(text) if end < 0 else end
    while index < end and units < where["character"]:
        units += 2 if ord(text[index]) > 0xFFFF else 1
        index += 1
    return index


def span_range(text: str, start: int, end: int) -> dict[str, Any]:
    return {"start": position(text, start), "end": position(text, end)}


def range_span(text: str, where: dict[str, Any]) -> tuple[int, int]:
    return index_of(text, where["start"]), index_of(text, where["end"])


class Doc:
    def __init__(self, uri: str) -> None:
        self.uri, self.text = uri, ""
        self.version = self.announced = 1
        self.open = True
        self.held: list[dict[str, Any]] = []  # applied edits whose didChange is not sent yet


class Soak:
    def __init__(self, seed: int, rewrites: int, process: asyncio.subprocess.Process) -> None:
        self.rng = random.Random(seed)
        self.target = rewrites
        self.process = process
        self.counts: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.rss: list[int] = []
        self.docs = {uri: Doc(uri) for uri in (f"file:///soak/doc{n}.md" for n in range(4))}
        self.ids = itertools.count(1)
        self.waiting: dict[str, tuple[dict[str, int], asyncio.Future[Any]]] = {}
        self.known: dict[str, int] = {}  # per document: the newest version the server has seen
        self.applied: set[tuple[str, int]] = set()
        self.pending: dict[str, tuple[str, str]] = {}  # command id -> (uri, text it started from)
        self.arrived = asyncio.Event()
        self.received = 0
        self.finishing = False

    # ------------------------------------------------------------------ the wire

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def request(self, method: str, params: Any) -> tuple[str, asyncio.Future[Any]]:
        rid = f"c{next(self.ids)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting[rid] = (self.snapshot(), future)
        self.send({"id": rid, "method": method, "params": params})
        return rid, future

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def snapshot(self) -> dict[str, int]:
        """What the server will have seen of each document once it answers this request."""
        return {d.uri: d.announced + (0 if d.open else 1) for d in self.docs.values()}

    async def read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        with contextlib.suppress(asyncio.IncompleteReadError):  # the server has gone
            while header := await stdout.readuntil(b"\r\n\r\n"):
                length = re.search(rb"Content-Length: *(\d+)", header, re.I)
                assert length is not None, header
                self.receive(json.loads(await stdout.readexactly(int(length.group(1)))))
                self.received += 1
                self.arrived.set()

    def receive(self, message: dict[str, Any]) -> None:
        if "method" not in message:
            if (waiting := self.waiting.pop(str(message.get("id")), None)) is None:
                self.counts["unexpected responses"] += 1
                return
            for uri, version in waiting[0].items():
                self.known[uri] = max(self.known.get(uri, 0), version)
            self.counts["error responses"] += "error" in message
            waiting[1].set_result(message.get("result"))
        elif message["method"] == "workspace/applyEdit":
            self.on_apply(message["id"], message["params"])
        elif "id" in message:  # progress create, configuration: answered at once
            self.send({"id": message["id"], "result": None})
        elif message["method"] == "window/logMessage":
            if found := OUTCOME.fullmatch(message["params"]["message"]):
                self.ended(found.group(1), found.group(2))
        elif message["method"] == "window/showMessage":
            self.counts["messages shown"] += 1

    def ended(self, rid: str, outcome: str) -> None:
        self.pending.pop(rid, None)
        self.outcomes[outcome.split(" (")[0] if outcome.startswith("failed") else outcome] += 1

    # ------------------------------------------------------------------ an editor's edits

    def on_apply(self, rid: Any, params: dict[str, Any]) -> None:
        (change,) = params["edit"]["documentChanges"]
        uri, version = change["textDocument"]["uri"], change["textDocument"]["version"]
        (edit,) = change["edits"]
        doc = self.docs[uri]
        self.counts["edits sent"] += 1
        if (uri, version) in self.applied:
            self.counts["stale"] += 1  # a second edit for a version already edited
        elif not doc.open or version != doc.version:
            gone = version < self.known.get(uri, 0) or version > doc.version
            self.counts["stale" if gone else "raced"] += 1
        else:
            self.accept(rid, doc, edit)
            return
        self.send({"id": rid, "result": {"applied": False, "failureReason": "stale version"}})

    def accept(self, rid: Any, doc: Doc, edit: dict[str, Any]) -> None:
        start, end = range_span(doc.text, edit["range"])
        old = doc.text[start:end]
        started = {text for uri, text in self.pending.values() if uri == doc.uri}
        if old not in started or edit["newText"] != fixed(old):
            self.counts["on changed text"] += 1
        if self.rng.random() < 0.05:
            self.counts["refused by the client"] += 1
            self.send({"id": rid, "result": {"applied": False, "failureReason": "refused"}})
            return
        self.applied.add((doc.uri, doc.version))
        self.counts["applied"] += 1
        event = {"range": edit["range"], "text": edit["newText"]}
        doc.text, doc.version = doc.text[:start] + edit["newText"] + doc.text[end:], doc.version + 1
        orders = ["answer first"] if self.finishing else ["change first", "answer first", "later"]
        order = self.rng.choice(orders)
        if order == "change first":
            self.report(doc, [event])
        if order == "later":
            doc.held.append(event)
        self.send({"id": rid, "result": {"applied": True}})
        if order == "answer first":
            self.report(doc, [event])

    def report(self, doc: Doc, events: list[dict[str, Any]]) -> None:
        doc.announced = doc.version
        identifier = {"uri": doc.uri, "version": doc.version}
        self.notify(
            "textDocument/didChange", {"textDocument": identifier, "contentChanges": events}
        )

    def flush(self, doc: Doc) -> None:
        """Send a held didChange (an editor flushes before anything else about the document)."""
        if doc.held:
            events, doc.held = doc.held, []
            self.report(doc, events)

    # ------------------------------------------------------------------ the user

    def sentence(self) -> str:
        words = [self.rng.choice(WORDS) for _ in range(self.rng.randint(3, 6))]
        return " ".join([self.rng.choice(FIRST), *words, str(self.rng.randint(1, 999))])

    def type(self, doc: Doc, over: str | None = None) -> None:
        """One change by the user: a word in or out, a line added or replaced; over a rewrite's
        text when `over` is given; sometimes sent as the whole document."""
        self.flush(doc)
        text, rng = doc.text, self.rng
        lines = [m.span() for m in re.finditer(r"[^\n]+", text)]
        found = text.find(over) if over else -1
        if found >= 0:
            at = found + 1 + rng.randrange(len(over or "xx") - 1)  # inside, not at an end
            start, end, new = at, at, rng.choice(["x", " bright", "-"])
        elif rng.random() < 0.4 and lines:
            start, end = rng.choice(lines)
            longer = text[start:end] + " " + rng.choice(WORDS)
            new = self.sentence() if rng.random() < 0.5 else longer
        else:
            start = end = rng.choice([0, *(s for s, _ in lines), len(text)])
            new = self.sentence() + "\n"
        doc.text, doc.version = text[:start] + new + text[end:], doc.version + 1
        if rng.random() < 0.15:
            self.report(doc, [{"text": doc.text}])
        else:
            self.report(doc, [{"range": span_range(text, start, end), "text": new}])

    def close_and_open(self, doc: Doc) -> None:
        self.flush(doc)
        self.notify("textDocument/didClose", {"textDocument": {"uri": doc.uri}})
        doc.open = False
        doc.version += 1
        self.open(doc)

    def open(self, doc: Doc) -> None:
        doc.open, doc.announced = True, doc.version
        item = {"uri": doc.uri, "languageId": "markdown", "version": doc.version, "text": doc.text}
        self.notify("textDocument/didOpen", {"textDocument": item})

    async def rewrite(self, doc: Doc) -> None:
        """Ask for the actions on a line or some words of it, then press fix (maybe twice)."""
        self.flush(doc)
        rng, before, version = self.rng, doc.text, doc.version
        line = rng.choice([m.span() for m in re.finditer(r"[^\n]+", before)])
        words = [m.span() for m in re.compile(r"\S+").finditer(before, *line)]
        if len(words) > 2 and rng.random() < 0.3:
            first = rng.randrange(len(words) - 1)
            words = words[first : rng.randrange(first + 1, len(words)) + 1]
        where = span_range(before, words[0][0], words[-1][1])
        params = {"textDocument": {"uri": doc.uri}, "range": where, "context": {"diagnostics": []}}
        _, answer = self.request("textDocument/codeAction", params)
        arguments = [a["command"]["arguments"][0] for a in await answer or ()]
        fix = next((a for a in arguments if a["action"] == "fix"), None)
        if fix is None or fix["version"] != version:
            self.counts["no actions"] += 1
            return
        start, end = range_span(before, fix["range"])
        if rng.random() < 0.15:
            self.type(doc)  # typing between the offer and the press
        presses = 2 if rng.random() < 0.12 else 1
        for _ in range(presses):
            rid, _ = self.request(
                "workspace/executeCommand", {"command": "rewrite-lsp.rewrite", "arguments": [fix]}
            )
            self.pending[rid] = (doc.uri, before[start:end])
        if rng.random() < 0.1:
            self.notify("$/cancelRequest", {"id": rid})
            self.counts["cancels"] += 1
        self.counts["rewrites"] += 1
        self.counts["duplicate presses"] += presses - 1

    async def step(self) -> None:
        rng = self.rng
        doc, roll = rng.choice(list(self.docs.values())), rng.random()
        if roll < 0.45:
            await self.rewrite(doc)
        elif roll < 0.70:
            self.type(doc)
        elif roll < 0.80 and self.pending:
            uri, text = rng.choice(list(self.pending.values()))
            self.type(self.docs[uri], over=text)
        elif roll < 0.86 and self.pending:
            self.notify("$/cancelRequest", {"id": rng.choice(list(self.pending))})
            self.counts["cancels"] += 1
        elif roll < 0.89:
            self.close_and_open(doc)
            self.counts["close and open"] += 1
        elif roll < 0.95:
            self.flush(doc)
        else:
            seen = self.received
            await self.settle(lambda: self.received > seen, 1.0)  # let the server get a word in

    async def settle(self, condition: Callable[[], bool], seconds: float = 5.0) -> bool:
        """Handle the server's messages until `condition()` holds; False if time ran out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not condition():
            self.arrived.clear()
            if (left := deadline - loop.time()) <= 0:
                return False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)
        return True

    async def run(self) -> dict[str, Any]:
        reader = asyncio.get_running_loop().create_task(self.read())
        _, started = self.request(
            "initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": CAPABILITIES}
        )
        await started
        self.notify("initialized", {})
        for doc in self.docs.values():
            doc.text = "\n".join(self.sentence() for _ in range(8)) + "\n"
            self.open(doc)
        self.rss.append(rss_kib(self.process.pid))
        while self.counts["rewrites"] < self.target:
            if len(self.pending) >= 8:
                await self.settle(lambda: len(self.pending) < 8)
            await self.step()
            if self.counts["rewrites"] == self.target // 2 and len(self.rss) == 1:
                self.rss.append(rss_kib(self.process.pid))
            assert self.process.stdin is not None
            await self.process.stdin.drain()
        self.finishing = True
        for doc in self.docs.values():
            self.flush(doc)
        await self.settle(lambda: not self.pending, 60.0)
        self.counts["never ended"] = len(self.pending)
        self.rss.append(rss_kib(self.process.pid))
        _, shutdown = self.request("shutdown", None)
        await asyncio.wait_for(shutdown, 30)
        self.counts["unanswered"] = len(self.waiting)
        self.notify("exit", None)
        await asyncio.wait_for(self.process.wait(), 10)
        reader.cancel()
        return {"counts": self.counts, "outcomes": self.outcomes, "rss": self.rss}


CAPABILITIES: dict[str, Any] = {
    "general": {"positionEncodings": ["utf-16"]},
    "window": {"workDoneProgress": True},
    "workspace": {"applyEdit": True, "workspaceEdit": {"documentChanges": True}},
    "textDocument": {
        "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["refactor"]}}}
    },
}


async def soak(seed: int, rewrites: int, standin_url: str, errors: Path) -> dict[str, Any]:
    """One run against a fresh server; its counts, outcomes and RSS."""
    with errors.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *SERVER,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "OLLAMA_HOST": standin_url},
        )
        try:
            result = await Soak(seed, rewrites, process).run()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    logged = errors.read_text(encoding="utf-8", errors="replace")
    result["counts"]["server errors"] = len(re.findall(r"^(ERROR|Traceback)", logged, re.M))
    return result


def table(results: dict[int, dict[str, Any]]) -> str:
    runs = list(results.values())

    def row(label: str, values: list[str]) -> str:
        return f"| {label} | " + " | ".join(values) + " |"

    lines = [row("count", [f"seed {seed}" for seed in results]), "|---|" + "---|" * len(runs)]
    for name in (*SHOWN, "refused by the client", "raced", *ZEROS, *PROTOCOL_ERRORS):
        lines.append(row(name, [str(run["counts"][name]) for run in runs]))
    rss = [" / ".join(f"{kib / 1024:.0f}" for kib in run["rss"]) for run in runs]
    lines.append(row("server RSS MiB, start / middle / end", rss))
    for outcome in sorted({outcome for run in runs for outcome in run["outcomes"]}):
        lines.append(row(f"outcome: {outcome}", [str(run["outcomes"][outcome]) for run in runs]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rewrites", type=int, default=1000)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--token-delay", type=float, default=0.002)
    args = parser.parse_args()
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as home:
        for variable in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            os.environ[variable] = os.path.join(home, variable.lower())
        os.environ.pop("REWRITE_CONFIG", None)
        for seed in (int(s) for s in args.seeds.split(",")):
            with StandIn(reply=fix_reply, token_delay=args.token_delay) as standin:
                results[seed] = asyncio.run(
                    soak(seed, args.rewrites, standin.url, Path(home) / f"stderr{seed}")
                )
    command = f"python bench/lsp_soak.py --rewrites {args.rewrites} --seeds {args.seeds}"
    print(f"Machine: {machine()}.\n\n`{command}`\n")
    print(table(results))


if __name__ == "__main__":
    main()
