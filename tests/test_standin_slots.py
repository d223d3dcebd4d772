"""The stand-in's slots, queue and first-token delay (Ollama's OLLAMA_NUM_PARALLEL and
OLLAMA_MAX_QUEUE), over real sockets. Requests are held in their slot by a reply that waits on
a gate, so every state a test checks is one it waited for, never one it slept into."""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any

import pytest

from tests.standin import SERVER_BUSY, StandIn
from tests.standin.cli import build, parse_args
from tests.standin.probe import Reply, call, connect, data_of, encode, events_of

MODEL = "qwen2.5:1.5b"
COMPLETIONS = "/v1/chat/completions"
WORDS = "one two three four"


def body_for(path: str, text: str = "hello there", **extra: Any) -> dict[str, Any]:
    """A request that generates text on `path`, streamed."""
    if path == "/api/generate":
        return {"model": MODEL, "prompt": text, **extra}
    messages = [{"role": "user", "content": text}]
    streamed = {"stream": True} if path == COMPLETIONS else {}
    return {"model": MODEL, "messages": messages, **streamed, **extra}


def text_of(path: str, reply: Reply) -> str:
    """The text a streamed reply carried."""
    if path == COMPLETIONS:
        chunks = [c for c in data_of(events_of(reply.data)) if c != "[DONE]" and c["choices"]]
        return "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
    if path == "/api/generate":
        return "".join(line["response"] for line in reply.lines())
    return "".join(line["message"]["content"] for line in reply.lines())


def prompt_of(body: dict[str, Any]) -> str:
    return str(body.get("prompt") or body["messages"][-1]["content"])


class Gate:
    """A reply (StandIn.reply) that keeps its request in its slot until the gate opens, and
    notes the prompt it answers and how many requests held a slot then."""

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        self.opened = threading.Event()
        self.prompts: list[str] = []
        self.active_seen: list[int] = []
        self._entered = threading.Condition()

    def __call__(self, body: dict[str, Any]) -> str:
        with self._entered:
            self.prompts.append(prompt_of(body))
            self.active_seen.append(self.standin.active)
            self._entered.notify_all()
        assert self.opened.wait(10), "the gate was never opened"
        return WORDS

    def reached_by(self, count: int) -> bool:
        """Wait until `count` requests reached the gate (slot taken, model loaded, first
        token due)."""
        with self._entered:
            return self._entered.wait_for(lambda: len(self.prompts) >= count, 10)


class InFlight:
    """A request answered in a thread of its own."""

    def __init__(self, standin: StandIn, path: str, body: Any) -> None:
        self.reply: Reply | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(standin, path, body), daemon=True)
        self._thread.start()

    def _run(self, standin: StandIn, path: str, body: Any) -> None:
        try:
            self.reply = call(standin, "POST", path, body, timeout=10)
        except BaseException as exc:  # handed to the test by result()
            self.error = exc

    def result(self) -> Reply:
        self._thread.join(15)
        assert not self._thread.is_alive(), "the request never ended"
        if self.error is not None:
            raise self.error
        assert self.reply is not None
        return self.reply


def gated(standin: StandIn) -> Gate:
    gate = Gate(standin)
    standin.reply = gate
    return gate


def waiting_request(standin: StandIn, path: str = "/api/chat") -> http.client.HTTPConnection:
    """A request sent on its own connection, once it is known to wait for a slot."""
    before = standin.waiting
    conn = connect(standin, timeout=10)
    conn.request("POST", path, body=encode(body_for(path)))
    assert standin.wait_for(lambda: standin.waiting == before + 1)
    return conn


# --- slots ---------------------------------------------------------------------------------


def test_two_slots_let_two_of_six_requests_generate_at_once() -> None:
    paths = ["/api/chat", "/api/generate", COMPLETIONS] * 2
    with StandIn(slots=2, token_delay=0.01) as ollama:
        gate = gated(ollama)
        requests = [InFlight(ollama, path, body_for(path)) for path in paths]
        assert ollama.wait_for(lambda: ollama.active == 2 and ollama.waiting == 4)
        gate.opened.set()
        replies = [request.result() for request in requests]
        assert [reply.status for reply in replies] == [200] * 6
        texts = [text_of(path, reply) for path, reply in zip(paths, replies, strict=True)]
        assert texts == [WORDS] * 6
        assert ollama.max_active == 2 and max(gate.active_seen) == 2
        assert (ollama.served, ollama.active, ollama.waiting) == (6, 0, 0)
        assert ollama.busy_rejections == 0
        assert ollama.wait_for(lambda: len(ollama.generations) == 6)  # logged after the end


def test_without_slots_nothing_waits() -> None:
    with StandIn() as ollama:
        gate = gated(ollama)
        requests = [InFlight(ollama, "/api/chat", body_for("/api/chat")) for _ in range(4)]
        assert ollama.wait_for(lambda: ollama.active == 4)
        assert ollama.waiting == 0 and ollama.slots is None
        gate.opened.set()
        assert all(request.result().status == 200 for request in requests)
        assert (ollama.max_active, ollama.served) == (4, 4)


def test_waiting_requests_take_slots_in_arrival_order() -> None:
    with StandIn(slots=1) as ollama:
        gate = gated(ollama)
        holder = InFlight(ollama, "/api/chat", body_for("/api/chat", "first"))
        assert ollama.wait_for(lambda: ollama.active == 1)
        waiters = []
        for index in range(4):
            path = ["/api/chat", COMPLETIONS][index % 2]
            waiters.append(InFlight(ollama, path, body_for(path, f"waiter {index}")))
            assert ollama.wait_for(lambda: ollama.waiting == len(waiters))
        gate.opened.set()
        assert all(request.result().status == 200 for request in [holder, *waiters])
        assert gate.prompts == ["first"] + [f"waiter {index}" for index in range(4)]
        assert ollama.max_active == 1 and ollama.served == 5


def test_raising_slots_lets_waiting_requests_in_at_once() -> None:
    with StandIn(slots=1) as ollama:
        gate = gated(ollama)
        first = InFlight(ollama, "/api/chat", body_for("/api/chat"))
        assert ollama.wait_for(lambda: ollama.active == 1)
        second = InFlight(ollama, "/api/chat", body_for("/api/chat"))
        assert ollama.wait_for(lambda: ollama.waiting == 1)
        ollama.slots = 2
        assert ollama.wait_for(lambda: ollama.active == 2 and ollama.waiting == 0)
        gate.opened.set()
        assert first.result().status == second.result().status == 200
        assert ollama.max_active == 2


def test_a_warm_up_holds_a_slot_only_while_it_loads() -> None:
    warm_up = {"model": MODEL, "messages": []}
    with StandIn(slots=1) as ollama:
        gate = gated(ollama)
        holder = InFlight(ollama, "/api/chat", body_for("/api/chat"))
        assert gate.reached_by(1)  # the model is loaded by now
        warm = call(ollama, "POST", "/api/chat", warm_up)  # no slot needed: answered now
        assert (warm.status, warm.json()["done_reason"]) == (200, "load")
        ollama.expire(MODEL)
        cold = InFlight(ollama, "/api/chat", warm_up)  # it has to load: it waits its turn
        assert ollama.wait_for(lambda: ollama.waiting == 1)
        gate.opened.set()
        assert holder.result().status == 200
        assert cold.result().json()["done_reason"] == "load"
        assert ollama.load_count == 2 and ollama.max_active == 1
        assert ollama.served == 1  # a warm-up is not a generation


# --- the queue -----------------------------------------------------------------------------

BUSY_BODIES = {
    "/api/chat": {"error": SERVER_BUSY},
    "/api/generate": {"error": SERVER_BUSY},
    COMPLETIONS: {
        "error": {"message": SERVER_BUSY, "type": "server_error", "param": None, "code": None}
    },
}


@pytest.mark.parametrize("path", list(BUSY_BODIES))
def test_a_full_queue_answers_503_at_once(path: str) -> None:
    with StandIn(slots=1, max_queue=1) as ollama:
        gate = gated(ollama)
        holder = InFlight(ollama, "/api/chat", body_for("/api/chat"))
        assert ollama.wait_for(lambda: ollama.active == 1)
        waiter = InFlight(ollama, path, body_for(path))
        assert ollama.wait_for(lambda: ollama.waiting == 1)
        busy = call(ollama, "POST", path, body_for(path))
        assert busy.status == 503
        assert busy.headers["content-type"] == "application/json; charset=utf-8"
        assert json.loads(busy.data) == BUSY_BODIES[path]
        if path != COMPLETIONS:
            assert busy.data == b'{"error":"' + SERVER_BUSY.encode() + b'"}'
        assert (ollama.busy_rejections, ollama.waiting, ollama.active) == (1, 1, 1)
        assert ollama.requests[-1].status == 503
        gate.opened.set()
        assert holder.result().status == waiter.result().status == 200
        assert ollama.served == 2


def test_max_queue_zero_answers_503_whenever_every_slot_is_taken() -> None:
    with StandIn(slots=1, max_queue=0) as ollama:
        gate = gated(ollama)
        holder = InFlight(ollama, "/api/chat", body_for("/api/chat"))
        assert ollama.wait_for(lambda: ollama.active == 1)
        assert call(ollama, "POST", "/api/chat", body_for("/api/chat")).status == 503
        gate.opened.set()
        assert holder.result().status == 200
        assert call(ollama, "POST", "/api/chat", body_for("/api/chat")).status == 200
        assert (ollama.busy_rejections, ollama.served) == (1, 2)


def test_a_waiter_that_hangs_up_never_takes_a_slot() -> None:
    with StandIn(slots=1) as ollama:
        gate = gated(ollama)
        holder = InFlight(ollama, "/api/chat", body_for("/api/chat", "holder"))
        assert ollama.wait_for(lambda: ollama.active == 1)
        leaver = waiting_request(ollama)
        leaver.close()
        assert ollama.wait_for(lambda: ollama.waiting == 0)
        assert ollama.wait_for(lambda: ollama.chat_requests()[1].disconnected)
        assert ollama.chat_requests()[1].status is None
        gate.opened.set()
        assert holder.result().status == 200
        assert ollama.served == 1 and ollama.active == 0
        after = call(ollama, "POST", "/api/chat", body_for("/api/chat", "after"))
        assert text_of("/api/chat", after) == WORDS
        assert ollama.served == 2 and gate.prompts == ["holder", "after"]
        assert ollama.max_active == 1
        assert ollama.wait_for(lambda: len(ollama.generations) == 2)  # logged after the end


# --- first_token_delay ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/chat", COMPLETIONS])
def test_first_token_delay_holds_back_the_headers_and_the_first_line(path: str) -> None:
    with StandIn(first_token_delay=0.3, reply=WORDS) as ollama:
        conn = connect(ollama)
        started = time.monotonic()
        conn.request("POST", path, body=encode(body_for(path)))
        response = conn.getresponse()  # the status line comes with the first token
        assert time.monotonic() - started >= 0.3
        assert response.status == 200 and response.readline().strip()
        rest = response.read()
        conn.close()
        if path == "/api/chat":
            final = json.loads(rest.splitlines()[-1])
            assert final["prompt_eval_duration"] >= 300_000_000
            assert final["total_duration"] >= 300_000_000


def test_first_token_delay_is_settable_and_comes_after_the_slot() -> None:
    with StandIn(slots=1) as ollama:
        gate = gated(ollama)
        holder = InFlight(ollama, "/api/chat", body_for("/api/chat"))
        assert gate.reached_by(1)
        ollama.first_token_delay = 0.2
        waiter = InFlight(ollama, "/api/chat", body_for("/api/chat"))
        assert ollama.wait_for(lambda: ollama.waiting == 1)
        gate.opened.set()
        holder.result()
        final = waiter.result().lines()[-1]
        assert final["prompt_eval_duration"] >= 200_000_000  # counted from its slot on
        assert final["total_duration"] >= final["prompt_eval_duration"]


# --- stop and start ------------------------------------------------------------------------


def test_stop_ends_waiting_requests_and_start_serves_again() -> None:
    with StandIn(slots=1, reply=" ".join(["word"] * 20)) as ollama:
        ollama.fault("stall", after_chunks=1, seconds=30)  # in the middle of the reply
        holder = connect(ollama, timeout=10)
        holder.request("POST", "/api/chat", body=encode(body_for("/api/chat")))
        stalled = holder.getresponse()
        assert json.loads(stalled.readline())["done"] is False
        waiters = [waiting_request(ollama), waiting_request(ollama, COMPLETIONS)]
        url = ollama.url
        ollama.stop()
        with pytest.raises(http.client.IncompleteRead):
            stalled.read()
        for waiter in waiters:
            with pytest.raises(ConnectionResetError):  # RemoteDisconnected: no response at all
                waiter.getresponse()
            waiter.close()
        holder.close()
        assert (ollama.active, ollama.waiting, ollama.served) == (0, 0, 1)
        ollama.start()
        assert ollama.url == url
        gate = gated(ollama)
        first = InFlight(ollama, "/api/chat", body_for("/api/chat"))
        assert ollama.wait_for(lambda: ollama.active == 1)
        second = InFlight(ollama, COMPLETIONS, body_for(COMPLETIONS))
        assert ollama.wait_for(lambda: ollama.waiting == 1)
        gate.opened.set()
        assert text_of("/api/chat", first.result()) == WORDS
        assert text_of(COMPLETIONS, second.result()) == WORDS
        assert ollama.served == 3 and ollama.max_active == 1


# --- settings ------------------------------------------------------------------------------


def test_limits_are_checked_and_the_counts_read_only() -> None:
    with pytest.raises(ValueError, match="slots"):
        StandIn(slots=0)
    with pytest.raises(ValueError, match="max_queue"):
        StandIn(max_queue=-1)
    ollama = StandIn(slots=2, max_queue=3)
    with pytest.raises(ValueError, match="slots"):
        ollama.slots = 0
    assert (ollama.slots, ollama.max_queue) == (2, 3)
    with pytest.raises(AttributeError):
        ollama.served = 5


def test_the_command_line_sets_slots_queue_and_first_token_delay() -> None:
    args = ["--port", "0", "--slots", "2", "--max-queue", "0", "--first-token-delay", "0.25"]
    standin = build(parse_args(args))
    assert (standin.slots, standin.max_queue, standin.first_token_delay) == (2, 0, 0.25)
    default = build(parse_args(["--port", "0"]))
    assert (default.slots, default.max_queue, default.first_token_delay) == (None, None, 0.0)
    with pytest.raises(SystemExit):
        parse_args(["--slots", "0"])
