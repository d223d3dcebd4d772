"""`rewrite status`: the pure judge directly, then the command end to end against the stand-in."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewrite.cli_common import ExitCode
from rewrite.hosts import parse_host
from rewrite.status import (
    BROKEN,
    COLD,
    MISSING,
    READY,
    UNREACHABLE,
    Available,
    HostFacts,
    Judgement,
    Loaded,
    cpu_share,
    duration_words,
    exit_code_for,
    expiry_words,
    gather_all,
    judge,
    model_key,
    parse_loaded,
    parse_models,
    parse_rfc3339,
    percent,
    probe_timeout,
    render_text,
)
from tests.conftest import Run, RunCli, write_config
from tests.standin import ModelSpec, StandIn, unused_url

MODEL = "qwen2.5:1.5b"
NOW = 1_800_000_000.0  # an epoch second in 2027
GB = 10**9
STATES = {READY, COLD, MISSING, UNREACHABLE, BROKEN}


def stamp(seconds_from_now: float, offset_hours: int = 0) -> str:
    zone = timezone(timedelta(hours=offset_hours))
    return datetime.fromtimestamp(NOW + seconds_from_now, zone).isoformat()


def host_facts(
    models: tuple[str, ...] = (MODEL,), loaded: tuple[Loaded, ...] = (), **changes: Any
) -> HostFacts:
    available = tuple(Available(name, GB, "1.5B", "Q4_K_M") for name in models)
    return HostFacts("http://127.0.0.1:11434", models=available, loaded=loaded).replace(**changes)


def in_memory(
    name: str = MODEL,
    size: int = GB,
    size_vram: int = GB,
    context_length: int | None = 2048,
    expires_at: str | None = None,
) -> Loaded:
    return Loaded(name, size, size_vram, context_length, expires_at or stamp(1799.5))


# --- the judge, directly ---------------------------------------------------------------------


def test_a_loaded_model_on_the_gpu_is_ready() -> None:
    judged = judge(host_facts(loaded=(in_memory(),)), MODEL, 2048, NOW)
    assert judged == Judgement(READY, f"ready: {MODEL} loaded on GPU, expires in 29 min")


def test_an_available_model_not_in_memory_is_cold() -> None:
    other = in_memory("gemma3:1b")
    judged = judge(host_facts(models=(MODEL, "gemma3:1b"), loaded=(other,)), MODEL, 2048, NOW)
    assert judged.state == COLD
    assert judged.verdict == (
        f"cold: {MODEL} is available but not loaded; the next rewrite loads it (run `rewrite warm`)"
    )
    assert judged.warnings == ()


def test_a_model_not_on_the_server_is_missing_even_if_another_is_loaded() -> None:
    judged = judge(
        host_facts(models=("gemma3:1b",), loaded=(in_memory("gemma3:1b"),)), MODEL, 2048, NOW
    )
    assert judged.state == MISSING
    assert judged.verdict == f"missing: {MODEL} is not on this server; run `rewrite pull {MODEL}`"


def test_an_unreachable_host_gives_its_reason_and_a_broken_one_its_error() -> None:
    down = host_facts(models=(), reachable=False, error="no Ollama server answers at X")
    assert judge(down, MODEL, 2048, NOW) == Judgement(
        UNREACHABLE, "unreachable: no Ollama server answers at X"
    )
    broken = host_facts(error="the server at X answered HTTP 500 to /api/ps: boom")
    assert judge(broken, MODEL, 2048, NOW) == Judgement(
        BROKEN, "error: the server at X answered HTTP 500 to /api/ps: boom"
    )


def test_a_model_partly_on_the_cpu_says_what_share_and_warns() -> None:
    loaded = in_memory(size=4 * GB, size_vram=3 * GB)
    judged = judge(host_facts(loaded=(loaded,)), MODEL, 2048, NOW)
    assert judged.verdict == f"ready: {MODEL} loaded with 25% on CPU, expires in 29 min"
    assert len(judged.warnings) == 1
    assert judged.warnings[0].startswith(f"25% of {MODEL} runs on the CPU")


def test_a_model_wholly_on_the_cpu_warns_that_it_is_slow() -> None:
    judged = judge(host_facts(loaded=(in_memory(size_vram=0),)), MODEL, 2048, NOW)
    assert judged.verdict.startswith(f"ready: {MODEL} loaded on CPU,")
    assert judged.warnings == (
        f"{MODEL} runs entirely on the CPU: rewrites are much slower than on a GPU",
    )


def test_a_larger_context_than_num_ctx_means_a_reload_is_coming() -> None:
    judged = judge(host_facts(loaded=(in_memory(context_length=4096),)), MODEL, 2048, NOW)
    assert judged.state == READY
    (warning,) = judged.warnings
    assert "4096-token context but num_ctx is 2048: a reload is coming" in warning
    assert "unless" not in warning


def test_a_smaller_context_may_be_ollamas_cap_at_the_trained_length() -> None:
    judged = judge(host_facts(loaded=(in_memory(context_length=32768),)), MODEL, 65536, NOW)
    (warning,) = judged.warnings
    assert "a reload is coming" in warning
    assert "unless 32768 is the most this model was trained for" in warning


@pytest.mark.parametrize(("context", "num_ctx"), [(2048, 2048), (None, 2048), (4096, None)])
def test_no_context_warning_without_a_known_difference(
    context: int | None, num_ctx: int | None
) -> None:
    judged = judge(host_facts(loaded=(in_memory(context_length=context),)), MODEL, num_ctx, NOW)
    assert judged.warnings == ()


def test_names_match_without_a_tag_and_in_any_case() -> None:
    facts = host_facts(models=("Llama3.2:latest",), loaded=(in_memory("llama3.2:LATEST"),))
    assert judge(facts, "LLAMA3.2", 2048, NOW).state == READY
    assert judge(host_facts(models=("llama3.2",)), "llama3.2:latest", 2048, NOW).state == COLD
    assert judge(host_facts(models=("llama3.2:1b",)), "llama3.2", 2048, NOW).state == MISSING


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("qwen2.5:1.5b", "qwen2.5:1.5b"),
        ("Llama3.2", "llama3.2:latest"),
        ("registry.ollama.ai/library/gemma3:1B", "gemma3:1b"),
        ("hf.co/Someone/Model-GGUF", "hf.co/someone/model-gguf:latest"),
        ("localhost:5000/tiny", "localhost:5000/tiny:latest"),
    ],
)
def test_model_key(name: str, key: str) -> None:
    assert model_key(name) == key


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (None, None),
        (-3.0, "expiring now"),
        (0.4, "expiring now"),
        (45.9, "expires in 45 s"),
        (1799.9, "expires in 29 min"),
        (7200.0, "expires in 2 h"),
        (7500.0, "expires in 2 h 5 min"),
        (47 * 3600.0 + 60, "expires in 47 h 1 min"),
        (3 * 86400.0 + 4 * 3600, "expires in 3 d 4 h"),
        (30 * 86400.0, "expires in 30 d"),
        (400 * 86400.0, "kept loaded indefinitely"),
    ],
)
def test_expiry_in_words(seconds: float | None, words: str | None) -> None:
    assert expiry_words(seconds) == words


def test_keep_alive_forever_reads_as_indefinitely() -> None:
    forever = in_memory(expires_at="2318-08-07T03:17:49.123456789+02:00")
    judged = judge(host_facts(loaded=(forever,)), MODEL, 2048, NOW)
    assert judged.verdict == f"ready: {MODEL} loaded on GPU, kept loaded indefinitely"


def test_an_unreadable_expiry_is_left_out() -> None:
    judged = judge(host_facts(loaded=(in_memory(expires_at="soon"),)), MODEL, 2048, NOW)
    assert judged.verdict == f"ready: {MODEL} loaded on GPU"


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2026-08-01T12:00:00Z", 1785585600.0),
        ("2026-08-01T12:00:00.5Z", 1785585600.5),
        ("2026-08-01T12:00:00.123456789Z", 1785585600.123456789),
        ("2026-08-01t12:00:00.1z", 1785585600.1),
        ("2026-08-01T14:00:00.25+02:00", 1785585600.25),
        ("2026-08-01T05:00:00-07:00", 1785585600.0),
    ],
)
def test_rfc3339_with_any_number_of_fractional_digits(text: str, epoch: float) -> None:
    parsed = parse_rfc3339(text)
    assert parsed is not None and abs(parsed - epoch) < 1e-6


@pytest.mark.parametrize(
    "text", ["", "soon", "2026-13-01T00:00:00Z", "2026-08-01T12:00:00", "2026-08-01T12:00Z"]
)
def test_rfc3339_that_is_not(text: str) -> None:
    assert parse_rfc3339(text) is None


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(2400, 1, 1),
        timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-7, minutes=-30))]),
    ),
    st.integers(0, 9),
)
def test_rfc3339_round_trips(moment: datetime, digits: int) -> None:
    fraction = f"{moment.microsecond:06d}000"[:digits]
    offset = moment.strftime("%z")
    zone = "Z" if offset == "+0000" else f"{offset[:3]}:{offset[3:]}"
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if digits else "") + zone
    expected = moment.replace(microsecond=0).timestamp() + float(f"0.{fraction or 0}")
    parsed = parse_rfc3339(text)
    assert parsed is not None and abs(parsed - expected) < 1e-6


@given(st.integers(0, 10**12).flatmap(lambda size: st.tuples(st.just(size), st.integers(0, size))))
def test_cpu_share_of_any_model_lies_between_0_and_1(sizes: tuple[int, int]) -> None:
    size, size_vram = sizes
    share = cpu_share(size, size_vram)
    assert 0.0 <= share <= 1.0
    assert (share == 0.0) == (size_vram == size or size == 0)


@given(st.integers(-(10**12), 10**12), st.integers(-(10**12), 10**12))
def test_cpu_share_stays_in_range_for_nonsense_sizes(size: int, size_vram: int) -> None:
    assert 0.0 <= cpu_share(size, size_vram) <= 1.0


@given(st.floats(0.0, 1.0))
def test_a_partial_share_never_reads_as_none_or_all(share: float) -> None:
    shown = int(percent(share).rstrip("%"))
    assert 0 <= shown <= 100
    if 0 < share < 1:
        assert 1 <= shown <= 99


@given(st.floats(0, 10**9, allow_nan=False))
def test_durations_read_in_whole_units(seconds: float) -> None:
    assert re.fullmatch(r"\d+ s|\d+ min|\d+ h( \d+ min)?|\d+ d( \d+ h)?", duration_words(seconds))


_names = st.sampled_from(["qwen2.5:1.5b", "QWEN2.5:1.5B", "qwen2.5", "llama3.2", "gemma3:1b"])
_loaded = st.builds(
    Loaded,
    _names,
    st.integers(0, 10**11),
    st.integers(0, 10**11),
    st.none() | st.integers(1, 10**6),
    st.none() | st.sampled_from(["2026-01-01T00:00:00Z", "2400-01-01T00:00:00.1+01:00", "x"]),
)
_facts = st.builds(
    HostFacts,
    st.just("http://127.0.0.1:11434"),
    st.booleans(),
    st.none() | st.text(min_size=1),
    st.none() | st.text(),
    st.lists(st.builds(Available, _names)).map(tuple),
    st.lists(_loaded).map(tuple),
)


@given(_facts, _names, st.none() | st.integers(1, 10**6), st.floats(0, 2e10))
def test_every_host_gets_one_clear_verdict(
    facts: HostFacts, model: str, num_ctx: int | None, now: float
) -> None:
    judged = judge(facts, model, num_ctx, now)
    assert judged.state in STATES
    assert judged.verdict.startswith(f"{judged.state}: ")
    assert "\n" not in judged.verdict
    assert judged.state == READY or judged.warnings == ()


@pytest.mark.parametrize(
    ("states", "code"),
    [
        ([UNREACHABLE, READY], ExitCode.OK),
        ([MISSING, COLD], ExitCode.OK),
        ([UNREACHABLE, MISSING], ExitCode.NO_MODEL),
        ([BROKEN, MISSING], ExitCode.NO_MODEL),
        ([UNREACHABLE, BROKEN], ExitCode.FAILED),
        ([UNREACHABLE, UNREACHABLE], ExitCode.NO_SERVER),
        ([], ExitCode.NO_SERVER),
    ],
)
def test_exit_codes(states: list[str], code: ExitCode) -> None:
    assert exit_code_for(states) == code


def test_listings_tolerate_odd_entries() -> None:
    payload = {
        "models": [
            {"name": "a:1b", "size": 5, "details": {"parameter_size": "1B"}},
            {"name": "b:1b", "size": "big", "details": None},
            {"model": "no-name"},
            "not an entry",
            {"name": "c:1b", "size_vram": 2.0, "context_length": 0, "expires_at": 7},
        ]
    }
    assert parse_models(payload) == (
        Available("a:1b", 5, "1B", ""),
        Available("b:1b", 0, "", ""),
        Available("c:1b", 0, "", ""),
    )
    assert parse_loaded(payload)[2] == Loaded("c:1b", 0, 2, None, None)
    assert parse_models({"models": None}) == () == parse_loaded({})


def test_probe_timeout_is_short_but_never_longer_than_asked() -> None:
    assert probe_timeout(60.0) == 5.0
    assert probe_timeout(0.5) == 0.5


def test_text_shows_listings_verdicts_and_prefixed_warnings() -> None:
    up = host_facts(loaded=(in_memory(context_length=4096),), version="0.32.1")
    down = host_facts(models=(), reachable=False, error="no Ollama server answers at Y")
    judged = [(f, judge(f, MODEL, 2048, NOW)) for f in (down, up)]
    lines = render_text(judged, MODEL, 2048, NOW).splitlines()
    assert lines[0] == f"model {MODEL}, num_ctx 2048"
    assert "unreachable: no Ollama server answers at Y" in lines
    assert "http://127.0.0.1:11434, Ollama 0.32.1" in lines
    assert f"  available  {MODEL} (1.5B, Q4_K_M, 1.0 GB)" in lines
    assert f"  loaded     {MODEL} (on GPU, context 4096, expires in 29 min)" in lines
    assert [line for line in lines if line.startswith("warning: ")] == [
        f"warning: {MODEL} is loaded with a 4096-token context but num_ctx is 2048: "
        "a reload is coming, the next rewrite makes Ollama reload it"
    ]
    assert lines.index("unreachable: no Ollama server answers at Y") < lines.index(
        "http://127.0.0.1:11434, Ollama 0.32.1"
    )


# --- gathering: hosts are asked at once ----------------------------------------------------


def headers_sent(server: StandIn) -> Callable[[], bool]:
    return lambda: server.requests[0].status == 200


def test_hosts_are_asked_at_once(standin: StandIn) -> None:
    with StandIn() as other:
        urls = [standin.url, other.url]
        for server in (standin, other):
            server.fault("stall", path="/api/version", seconds=30)  # headers, then silence
        done: list[list[HostFacts]] = []
        worker = threading.Thread(
            target=lambda: done.append(gather_all([parse_host(url) for url in urls], 5.0))
        )
        worker.start()
        # Asked one after the other, the second would hear nothing before the first timed out.
        for server in (standin, other):
            assert server.wait_for(headers_sent(server), 3.0)
        standin.stop()  # ends the stalls: both answers break off
        other.stop()
        worker.join(10)
    assert [facts.url for facts in done[0]] == urls
    assert all("broke" in str(facts.error) or "closed" in str(facts.error) for facts in done[0])


# --- the command, end to end -----------------------------------------------------------------


def verdicts(run: Run) -> list[str]:
    return [line for line in run.text.splitlines() if line.split(":")[0] in STATES]


def warnings(run: Run) -> list[str]:
    return [line for line in run.text.splitlines() if line.startswith("warning: ")]


def load(standin: StandIn, model: str = MODEL, **body: Any) -> None:
    """Load a model in the stand-in the way a warm-up does: a chat without messages."""
    data = json.dumps({"model": model, "messages": [], **body}).encode()
    request = urllib.request.Request(f"{standin.url}/api/chat", data)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response)["done_reason"] == "load"


def test_cold_model_exits_0_and_loads_nothing(standin: StandIn, run_cli: RunCli) -> None:
    run = run_cli("status")
    assert run.code == 0, run.stderr
    assert verdicts(run) == [
        f"cold: {MODEL} is available but not loaded; the next rewrite loads it (run `rewrite warm`)"
    ]
    assert f"{standin.url}, Ollama 0.32.1" in run.text.splitlines()
    assert {(r.method, r.path) for r in standin.requests} == {
        ("GET", "/api/version"),
        ("GET", "/api/tags"),
        ("GET", "/api/ps"),
    }
    assert standin.loaded == {}


def test_ready_after_a_rewrite(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = "They're going."
    assert run_cli("fix", input="their going\n").code == 0
    run = run_cli("status")
    assert run.code == 0, run.stderr
    assert verdicts(run) == [f"ready: {MODEL} loaded on GPU, expires in 29 min"]
    assert warnings(run) == []
    assert f"  loaded     {MODEL} (on GPU, context 2048, expires in 29 min)" in run.text
    assert standin.load_count == 1


def test_keep_alive_forever_reads_as_kept_loaded_indefinitely(
    standin: StandIn, run_cli: RunCli
) -> None:
    load(standin, keep_alive=-1, options={"num_ctx": 2048})
    run = run_cli("status")
    assert verdicts(run) == [f"ready: {MODEL} loaded on GPU, kept loaded indefinitely"]


def test_an_expired_model_is_cold_again(standin: StandIn, run_cli: RunCli) -> None:
    load(standin, keep_alive="30m", options={"num_ctx": 2048})
    assert verdicts(run_cli("status"))[0].startswith("ready: ")
    standin.expire()
    run = run_cli("status")
    assert (run.code, verdicts(run)[0][:5]) == (0, "cold:")


def test_a_different_context_warns_that_a_reload_is_coming(
    standin: StandIn, run_cli: RunCli
) -> None:
    load(standin, keep_alive="30m", options={"num_ctx": 4096})
    run = run_cli("status")
    assert run.code == 0
    assert verdicts(run) == [f"ready: {MODEL} loaded on GPU, expires in 29 min"]
    assert warnings(run) == [
        f"warning: {MODEL} is loaded with a 4096-token context but num_ctx is 2048: "
        "a reload is coming, the next rewrite makes Ollama reload it"
    ]


def test_num_ctx_from_the_config_is_the_one_judged(
    standin: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    write_config(isolated_home, "options:\n  num_ctx: 4096\n")
    load(standin, keep_alive="30m", options={"num_ctx": 4096})
    run = run_cli("status")
    assert run.text.splitlines()[0] == f"model {MODEL}, num_ctx 4096"
    assert warnings(run) == []


def test_missing_model_exits_4_suggesting_a_pull(run_cli: RunCli) -> None:
    run = run_cli("status", "--model", "nosuch:1b")
    assert run.code == 4
    assert verdicts(run) == [
        "missing: nosuch:1b is not on this server; run `rewrite pull nosuch:1b`"
    ]


def test_model_names_match_without_tag_and_case(standin: StandIn, run_cli: RunCli) -> None:
    standin.add_model(ModelSpec("Llama3.2", parameter_size="3.2B"))
    run = run_cli("status", "--model", "llama3.2")
    assert run.code == 0
    assert verdicts(run)[0].startswith("cold: llama3.2 is available")
    assert "  available  Llama3.2:latest (3.2B, Q4_K_M, 986 MB)" in run.text.splitlines()


def test_no_server_exits_3_saying_what_to_do(run_cli: RunCli) -> None:
    dead = unused_url()
    run = run_cli("status", env={"OLLAMA_HOST": dead})
    assert run.code == 3
    (verdict,) = verdicts(run)
    assert verdict.startswith(f"unreachable: no Ollama server answers at {dead}")
    assert "ollama serve" in verdict
    assert "Traceback" not in run.stderr


def test_two_hosts_one_down_one_up(standin: StandIn, run_cli: RunCli) -> None:
    dead = unused_url()
    run = run_cli("status", "--host", dead, "--host", standin.url)
    assert run.code == 0
    assert [line.split(":")[0] for line in verdicts(run)] == ["unreachable", "cold"]
    assert run.text.index(dead) < run.text.index(standin.url)


def test_one_host_down_and_one_without_the_model_exits_4(standin: StandIn, run_cli: RunCli) -> None:
    run = run_cli("status", "--host", unused_url(), "--host", standin.url, "--model", "x:1b")
    assert run.code == 4
    assert [line.split(":")[0] for line in verdicts(run)] == ["unreachable", "missing"]


def test_a_server_error_is_reported_and_exits_1(standin: StandIn, run_cli: RunCli) -> None:
    standin.fault("status", status=500, path="/api/ps")
    run = run_cli("status", "--json")
    assert run.code == 1
    (host,) = json.loads(run.stdout)["hosts"]
    assert host["reachable"] is True
    assert host["version"] == "0.32.1"
    assert "HTTP 500 to /api/ps" in host["error"]
    assert host["verdict"] == f"error: {host['error']}"


@pytest.mark.parametrize(
    "fault",
    [
        "stall",  # the status line and headers arrive, then nothing
        "stall_headers",  # nothing arrives at all
    ],
)
def test_a_silent_server_is_given_up_on_after_the_timeout(
    standin: StandIn, run_cli: RunCli, isolated_home: Path, fault: str
) -> None:
    write_config(isolated_home, "timeout: 0.5\n")
    standin.fault(fault, path="/api/version", seconds=30)
    started = time.monotonic()
    run = run_cli("status")
    assert time.monotonic() - started < 15
    assert run.code == 1
    (verdict,) = verdicts(run)
    assert verdict.startswith("error: ") and "timeout" in verdict


def test_json_shape(standin: StandIn, run_cli: RunCli, isolated_home: Path) -> None:
    config = write_config(isolated_home, "model: gemma3:1b\noptions:\n  num_ctx: 1024\n")
    standin.add_model(ModelSpec("gemma3:1b", family="gemma3", parameter_size="1B"))
    load(standin, "gemma3:1b", keep_alive="10m", options={"num_ctx": 1024})
    dead = unused_url()
    run = run_cli(
        "status", "--json", "--config", str(config), "--host", dead, "--host", standin.url
    )
    assert run.code == 0, run.stderr
    result = json.loads(run.stdout)
    assert set(result) == {"model", "num_ctx", "hosts", "other_models"}
    assert (result["model"], result["num_ctx"]) == ("gemma3:1b", 1024)
    assert result["other_models"] == []  # every action uses the configured model
    down, up = result["hosts"]
    keys = {"url", "api", "reachable", "error", "version", "models", "loaded", "verdict"}
    keys |= {"warnings", "routing"}  # routing: with several hosts, each one's state
    assert set(down) == keys == set(up)
    assert (down["url"], down["reachable"], down["models"], down["loaded"]) == (dead, False, [], [])
    assert (down["routing"]["state"], down["routing"]["failures"]) == ("down", 1)
    assert (up["routing"]["state"], up["routing"]["in_flight"], up["routing"]["weight"]) == (
        "up",
        0,
        1.0,
    )
    assert down["verdict"] == f"unreachable: {down['error']}"
    assert (up["url"], up["reachable"], up["error"], up["version"]) == (
        standin.url,
        True,
        None,
        "0.32.1",
    )
    assert {"name": "gemma3:1b", "size": 986_000_000, "parameter_size": "1B"}.items() <= up[
        "models"
    ][0].items()
    assert set(up["models"][0]) == {"name", "size", "parameter_size", "quantization_level"}
    (loaded,) = up["loaded"]
    assert set(loaded) == {
        "name",
        "size",
        "size_vram",
        "cpu_share",
        "context_length",
        "expires_at",
        "expires_in_seconds",
    }
    assert (loaded["name"], loaded["cpu_share"], loaded["context_length"]) == ("gemma3:1b", 0, 1024)
    assert 540 <= loaded["expires_in_seconds"] <= 600
    assert parse_rfc3339(loaded["expires_at"]) is not None
    assert up["verdict"] == "ready: gemma3:1b loaded on GPU, expires in 9 min"
    assert up["warnings"] == []


def test_status_judges_the_model_the_default_action_uses(
    standin: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    write_config(
        isolated_home,
        "actions:\n  fix:\n    model: llama3.2:3b\n"
        "  pirate:\n    description: Pirate\n    instruction: Say it like a pirate.\n",
    )
    run = run_cli("status")
    assert run.code == 4, run.text  # every `rewrite fix` would exit 4 too
    assert run.text.startswith("model llama3.2:3b,") and "missing: llama3.2:3b" in run.text
    others = "concise, formal, friendly, pirate, rephrase, simplify, translate"
    assert f"qwen2.5:1.5b ({others}): on {standin.url}" in run.text
    flag = run_cli("status", "--model", "qwen2.5:1.5b")
    assert flag.code == 0 and flag.text.startswith("model qwen2.5:1.5b,")


def test_status_warns_of_a_model_some_action_names_that_no_server_has(
    standin: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    write_config(
        isolated_home,
        "actions:\n  pirate:\n    description: Pirate\n    instruction: Say it like a pirate.\n"
        "    model: gone:7b\n",
    )
    run = run_cli("status")
    assert run.code == 0
    assert "warning: gone:7b (pirate) is on no server: `rewrite pull gone:7b`" in run.text
    document = json.loads(run_cli("status", "--json").stdout)
    assert document["other_models"] == [{"model": "gone:7b", "actions": ["pirate"], "ready_on": []}]
