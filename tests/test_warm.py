"""Keeping the model loaded: `rewrite warm`, the keeper long-running doors use, stable prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewrite import Engine, RewriteRequest, load_settings
from rewrite.config import Overrides
from rewrite.warm import KeepWarm, keep_alive_seconds, refresh_seconds
from tests.conftest import RunCli, write_config
from tests.standin import ModelSpec, StandIn, unused_url


def test_warm_loads_with_the_options_rewrites_use(standin: StandIn, run_cli: RunCli) -> None:
    standin.load_delay = 0.3
    run = run_cli("warm")
    assert run.code == 0, run.stderr
    assert run.text.startswith(f"qwen2.5:1.5b is ready on {standin.url} after ")
    warm = standin.chat_requests()[-1].body
    assert warm["messages"] == []
    assert warm["keep_alive"] == "30m"
    assert warm["options"]["num_ctx"] == 2048
    assert standin.load_count == 1
    standin.reply = "They're going."
    rewrite = run_cli("fix", "--json", input="their going\n")
    assert json.loads(rewrite.stdout)["timings"]["load_ms"] < 300
    assert standin.load_count == 1  # same load-time options: no reload


def test_warm_waits_out_a_slow_load_whatever_the_timeout(
    standin: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    write_config(isolated_home, "timeout: 0.3\n")
    standin.load_delay = 1.0
    run = run_cli("warm")
    assert run.code == 0, run.stderr
    assert standin.load_count == 1


def test_warm_another_model(standin: StandIn, run_cli: RunCli) -> None:
    standin.add_model(ModelSpec("llama3.2:3b"))
    assert run_cli("warm", "--model", "llama3.2:3b").code == 0
    assert "llama3.2:3b" in standin.loaded


def test_warm_failures_use_the_usual_exit_codes(standin: StandIn, run_cli: RunCli) -> None:
    missing = run_cli("warm", "--model", "nosuch:1b")
    assert (missing.code, "rewrite pull nosuch:1b" in missing.stderr) == (4, True)
    down = run_cli("warm", env={"OLLAMA_HOST": unused_url()})
    assert down.code == 3


@pytest.mark.parametrize(
    ("keep_alive", "seconds"),
    [("30m", 1800.0), ("1h30m", 5400.0), ("500ms", 0.5), (90, 90.0), ("-1m", None), (-1, None)],
)
def test_keep_alive_in_seconds(keep_alive: str | float, seconds: float | None) -> None:
    assert keep_alive_seconds(keep_alive) == seconds


@pytest.mark.parametrize(
    ("keep_alive", "refresh"),
    [("30m", 300.0), ("10s", 8.0), (2, 1.6), (-1, 300.0), ("0s", None), (0, None)],
)
def test_refresh_comes_well_before_the_model_would_unload(
    keep_alive: str | float, refresh: float | None
) -> None:
    assert refresh_seconds(keep_alive) == refresh


def test_the_keeper_keeps_the_model_loaded(standin: StandIn, isolated_home: Path) -> None:
    write_config(isolated_home, "keep_alive: 1s\n")
    standin.load_delay = 0.2
    engine = Engine(load_settings(Overrides(hosts=(standin.url,))))
    states: list[str] = []
    keeper = KeepWarm(engine, on_change=states.append).start()
    try:
        assert standin.wait_for(lambda: keeper.warm_ups >= 4, 15)
    finally:
        keeper.stop()
    assert states[0] == "warm"
    assert standin.load_count == 1  # refreshed before every expiry: never loaded again
    assert all(r.body["keep_alive"] == "1s" for r in standin.chat_requests())


def test_the_keeper_reports_errors_and_recovers(standin: StandIn) -> None:
    engine = Engine(load_settings(Overrides(hosts=(standin.url,), model="later:1b")))
    keeper = KeepWarm(engine)
    keeper.start()
    try:
        assert standin.wait_for(lambda: keeper.state.startswith("error:"), 10)
        assert "later:1b" in keeper.state
    finally:
        keeper.stop()


def test_two_texts_send_byte_identical_prefixes(standin: StandIn) -> None:
    engine = Engine(load_settings(Overrides(hosts=(standin.url,))))
    texts = ["first text, quite short", "a second and rather different text to fix"]
    for text in texts:
        engine.rewrite(RewriteRequest(text))
    requests = standin.chat_requests()
    prefixes = [
        request.raw_body[: request.raw_body.index(json.dumps(text)[1:-1].encode())]
        for request, text in zip(requests, texts, strict=True)
    ]
    assert prefixes[0] == prefixes[1]
    assert b'"system"' in prefixes[0] and prefixes[0].count(b'"assistant"') >= 2
    load_time = ("num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread")
    first, second = ({k: r.body["options"].get(k) for k in load_time} for r in requests)
    assert first == second
    assert standin.load_count == 1
