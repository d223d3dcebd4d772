"""The core entry points the doors share: sync, streaming, async, and cancellation."""

from __future__ import annotations

import asyncio
import threading

import pytest

from rewrite import Engine, RewriteRequest, load_settings, rewrite_async, stream_async
from rewrite.config import Overrides
from rewrite.errors import Cancelled
from tests.standin import StandIn


def engine_for(standin: StandIn) -> Engine:
    return Engine(load_settings(Overrides(hosts=(standin.url,))))


def test_stream_yields_cleaned_pieces_then_the_framed_result(standin: StandIn) -> None:
    standin.reply = "Sure! Here's the corrected text: They are going to the store today."
    stream = engine_for(standin).stream(RewriteRequest("  their going to the store today\n"))
    pieces = list(stream)
    assert "".join(pieces) == "They are going to the store today."
    assert len(pieces) > 1  # streamed, not delivered in one piece at the end
    assert stream.result is not None
    assert stream.result.text == "  They are going to the store today.\n"


def test_two_texts_send_identical_prefixes_and_load_options(standin: StandIn) -> None:
    engine = engine_for(standin)
    engine.rewrite(RewriteRequest("first text, quite short"))
    engine.rewrite(RewriteRequest("a second and rather different text to fix"))
    first, second = (r.body for r in standin.chat_requests())
    assert first["messages"][:-1] == second["messages"][:-1]
    assert first["options"]["num_ctx"] == second["options"]["num_ctx"] == 2048
    assert first["keep_alive"] == second["keep_alive"]
    assert standin.load_count == 1


def test_closing_a_stream_from_another_thread_stops_the_server(standin: StandIn) -> None:
    standin.reply = " ".join(["word"] * 50)
    standin.token_delay = 0.05
    stream = engine_for(standin).stream(RewriteRequest("word word word"))
    pieces = iter(stream)
    first_chunk_seen = threading.Event()

    def cancel_after_first_chunk() -> None:
        standin.wait_for(lambda: any(r.chunks_sent > 2 for r in standin.chat_requests()), 5)
        first_chunk_seen.set()
        stream.close()

    threading.Thread(target=cancel_after_first_chunk).start()
    with pytest.raises(Cancelled):
        for _ in pieces:
            pass
    assert first_chunk_seen.is_set()
    assert standin.wait_for(lambda: standin.chat_requests()[-1].disconnected, 5)


def test_rewrite_async_returns_the_result(standin: StandIn) -> None:
    standin.reply = "They're going."
    result = asyncio.run(rewrite_async(engine_for(standin), RewriteRequest("their going\n")))
    assert result.text == "They're going.\n"


def test_cancelling_the_async_task_closes_the_http_stream(standin: StandIn) -> None:
    standin.reply = " ".join(["word"] * 50)
    standin.token_delay = 0.05

    async def scenario() -> None:
        task = asyncio.create_task(rewrite_async(engine_for(standin), RewriteRequest("word word")))
        started = lambda: any(r.chunks_sent > 1 for r in standin.chat_requests())  # noqa: E731
        assert await asyncio.to_thread(standin.wait_for, started, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert standin.wait_for(lambda: standin.chat_requests()[-1].disconnected, 5)
    assert not standin.chat_requests()[-1].completed


def test_async_stream_yields_pieces(standin: StandIn) -> None:
    standin.reply = "They are going to the store."

    async def collect() -> list[str]:
        stream = stream_async(engine_for(standin), RewriteRequest("their going to the store"))
        return [piece async for piece in stream]

    assert "".join(asyncio.run(collect())) == "They are going to the store."
