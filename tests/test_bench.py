"""`rewrite bench` through the CLI and the stand-in, and the pieces it is made of: prompt
variants, structured output read as it streams, the row summaries and the recommendation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewrite.actions import BUILTIN_ACTIONS
from rewrite.bench import Outcome, Row, percentiles, recommend, summarize
from rewrite.hosts import parse_host
from rewrite.variants import TEXT_SCHEMA, VARIANTS, JsonText
from tests.conftest import RunCli, _command
from tests.standin import ModelSpec, StandIn, echo_text

# ------------------------------------------------------------------------- the variants


@given(st.text(), st.lists(st.integers(0, 400), max_size=20), st.booleans())
def test_structured_text_streams_exactly_what_the_json_holds(
    text: str, cuts: list[int], ascii_only: bool
) -> None:
    raw = json.dumps({"text": text}, ensure_ascii=ascii_only)
    bounds = [0, *sorted(min(cut, len(raw)) for cut in cuts), len(raw)]
    reader = JsonText()
    streamed = "".join(reader.feed(raw[a:b]) for a, b in pairwise(bounds))
    assert streamed == text == reader.text()


def test_a_reply_that_is_no_json_is_read_whole() -> None:
    reader = JsonText()
    assert reader.feed("They're going.") == ""
    assert reader.text() is None and reader.raw == "They're going."


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_keeps_the_text_last_and_the_prefix_stable(name: str) -> None:
    variant, fix = VARIANTS[name], BUILTIN_ACTIONS["fix"]
    one, two = variant.messages(fix, "first text", {}), variant.messages(fix, "other", {})
    assert one[:-1] == two[:-1] and one[-1]["content"].endswith("first text")
    examples = sum(1 for m in one if m["role"] == "assistant")
    assert examples == {"zero-shot": 0, "one-shot": 1}.get(name, len(fix.examples))
    if name == "json":
        assert variant.format == TEXT_SCHEMA
        assert all(json.loads(m["content"]) for m in one if m["role"] == "assistant")


def test_the_json_variant_asks_each_api_for_structured_output(
    standin: StandIn, run_cli: RunCli
) -> None:
    standin.reply = json.dumps({"text": "They're going to the store."})
    ollama = run_cli("bench", "--variants", "json", "--actions", "fix", "--limit", "1", "--json")
    assert ollama.code == 0, ollama.stderr
    rewrites = [r for r in standin.chat_requests() if r.body.get("messages")]
    assert rewrites[-1].body["format"] == TEXT_SCHEMA
    host = f"{standin.url}/v1"
    openai = run_cli("bench", "--variants", "json", "--limit", "1", env={"OLLAMA_HOST": host})
    assert openai.code == 0, openai.stderr
    sent = standin.openai_requests()[-1].body["response_format"]
    assert sent == {"type": "json_object", "schema": TEXT_SCHEMA}


# --------------------------------------------------------------------------- the command


def fixed_or_garbage(body: dict[str, Any]) -> str:
    """A model that echoes the text, except that it answers every question."""
    text = echo_text(body["messages"][-1]["content"])
    return "The answer is 42." if text.rstrip().endswith("?") else text


def test_a_table_that_counts_what_the_bench_checks_find(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = fixed_or_garbage
    run = run_cli("bench", "--variants", "plain,zero-shot", "--json")
    assert run.code == 0, run.stderr
    table = json.loads(run.stdout)
    assert [row["variant"] for row in table["rows"]] == ["plain", "zero-shot"]
    for row in table["rows"]:
        counts = row["counts"]
        assert row["samples"] == sum(counts.values()) >= 72
        assert counts["refused"] > 0  # the answers to questions never ship ...
        assert counts["garbage"] == 0  # ... so nothing the checks call garbage does
        assert row["total"][0] <= row["total"][1]
    best = table["rows"][table["recommendation"]]
    assert best["counts"]["garbage"] == 0 and best["counts"]["good"] > 0
    text = run_cli("bench", "--variants", "plain", "--limit", "3")
    assert "| model | variant | n | good |" in text.text and "recommendation:" in text.text


def test_the_models_in_memory_before_are_put_back(standin: StandIn, run_cli: RunCli) -> None:
    standin.add_model(ModelSpec("other:1b"))
    warm = run_cli("warm", "--model", "other:1b")
    assert warm.code == 0, warm.stderr
    run = run_cli("bench", "--models", "qwen2.5:1.5b", "--variants", "plain", "--limit", "2")
    assert run.code == 0, run.stderr
    assert "unloaded qwen2.5:1.5b" in run.stderr
    assert list(standin.loaded) == ["other:1b"]


def test_ctrl_c_prints_what_was_measured_so_far(standin: StandIn, isolated_home: Any) -> None:
    standin.reply, standin.token_delay = fixed_or_garbage, 0.02
    process = subprocess.Popen(
        [*_command(), "bench", "--variants", "plain,json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OLLAMA_HOST": standin.url},
    )
    assert standin.wait_for(lambda: len(standin.chat_requests()) >= 6, 30)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err.decode()
    assert "interrupted" in out.decode() and "| qwen2.5:1.5b | plain |" in out.decode()
    assert "Traceback" not in err.decode()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--variants", "fancy"], "unknown variant 'fancy'"),
        (["--actions", "nosuch"], "no sample to run"),
        (["--samples", "/nonexistent.yaml"], "cannot read the samples"),
    ],
)
def test_bad_usage_exits_2(run_cli: RunCli, args: list[str], says: str) -> None:
    run = run_cli("bench", *args)
    assert run.code == 2 and says in run.stderr


def test_no_server_exits_3(run_cli: RunCli) -> None:
    from tests.standin import unused_url

    run = run_cli("bench", "--limit", "1", env={"OLLAMA_HOST": unused_url()})
    assert run.code == 3 and "no Ollama server answers" in run.stderr


# ------------------------------------------------------------------------- the summaries


def row_with(*outcomes: Outcome, variant: str = "plain") -> Row:
    row = Row(parse_host("127.0.0.1:1"), "m", variant)
    row.outcomes.extend(outcomes)
    return row


def test_the_recommendation_is_the_fastest_row_without_garbage() -> None:
    fast_but_wrong = row_with(Outcome("a", "good", 10), Outcome("b", "garbage", 10), variant="x")
    slow = row_with(Outcome("a", "good", 90), Outcome("b", "refused", 80), variant="y")
    fast = row_with(Outcome("a", "good", 50), Outcome("b", "missed", 40), variant="z")
    summaries = [summarize(row) for row in (fast_but_wrong, slow, fast)]
    best = recommend(summaries)
    assert best is not None and best.variant == "z"
    assert recommend([summarize(fast_but_wrong)]) is None


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=50))
def test_percentiles_are_ordered_values_of_the_list(values: list[float]) -> None:
    found = percentiles(values)
    assert found is not None
    p50, p95 = found
    assert min(values) - 0.1 <= p50 <= p95 <= max(values) + 0.1


def test_each_host_gets_its_own_rows(standin: StandIn, run_cli: RunCli) -> None:
    with StandIn() as other:
        urls = [standin.url, f"{other.url}/v1"]
        args = ["--hosts", ",".join(urls), "--limit", "2", "--variants", "plain", "--json"]
        run = run_cli("bench", *args)
    assert run.code == 0, run.stderr
    rows = json.loads(run.stdout)["rows"]
    assert [row["host"] for row in rows] == urls
    assert all(row["samples"] == 2 for row in rows)
