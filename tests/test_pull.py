"""`rewrite pull`: the error boundary around the official client, the progress reports, and
the command end to end (plain lines without a terminal, a progress bar in a real one)."""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest

from rewrite.config import Settings
from rewrite.errors import HostUnreachable, ModelNotFound, RewriteError, ServerError, UsageError
from rewrite.hosts import parse_host
from rewrite.pull import (
    PULL_READ_TIMEOUT,
    PullProgress,
    client_errors,
    pull_model,
    pull_read_timeout,
    translate_error,
)
from rewrite.pull_view import RESUME_HINT, BarView, PlainReport, format_bytes, format_duration
from tests.conftest import RunCli, _command, write_config
from tests.standin import PULL_MISSING, LoggedRequest, ModelSpec, StandIn, unused_url

MODEL = "qwen2.5:0.5b"
HOST = parse_host("http://127.0.0.1:11434")
REQUEST = httpx.Request("POST", f"{HOST.url}/api/pull")


@pytest.fixture
def pullable(standin: StandIn) -> StandIn:
    standin.pullable[MODEL] = ModelSpec(MODEL, size=986_000_000)
    return standin


def settings_for(*urls: str, timeout: float = 60.0) -> Settings:
    return Settings(hosts=tuple(parse_host(url) for url in urls), timeout=timeout)


def pull_requests(standin: StandIn) -> list[LoggedRequest]:
    return [r for r in standin.requests if r.path == "/api/pull"]


def tags(standin: StandIn) -> list[str]:
    with urllib.request.urlopen(f"{standin.url}/api/tags", timeout=5) as reply:
        return [model["name"] for model in json.load(reply)["models"]]


def causes(error: BaseException) -> Iterator[BaseException]:
    cause = error.__cause__
    while cause is not None:
        yield cause
        cause = cause.__cause__


# --- the error boundary: every family the client raises is mapped ------------------------


def httpx_errors() -> list[type[Exception]]:
    """Every exception class httpx raises for a failed request, found by walking the tree."""
    found: set[type[Exception]] = {httpx.HTTPError, httpx.InvalidURL}
    pending: list[type[Exception]] = [httpx.HTTPError]
    while pending:
        for subclass in pending.pop().__subclasses__():
            if subclass.__module__.startswith("httpx") and subclass not in found:
                found.add(subclass)
                pending.append(subclass)
    return sorted(found, key=lambda kind: kind.__name__)


def construct(kind: type[Exception]) -> Exception:
    """An instance made the way httpx makes it."""
    if kind is httpx.HTTPStatusError:
        return kind("boom", request=REQUEST, response=httpx.Response(502, request=REQUEST))
    if issubclass(kind, httpx.RequestError):
        return kind("boom", request=REQUEST)
    return kind("boom")


def test_the_walk_finds_the_families_that_matter() -> None:
    names = {kind.__name__ for kind in httpx_errors()}
    assert {"ConnectError", "ConnectTimeout", "ReadTimeout", "RemoteProtocolError"} <= names
    assert len(names) >= 18


@pytest.mark.parametrize("kind", httpx_errors(), ids=lambda kind: kind.__name__)
def test_every_httpx_error_is_caught_and_mapped(kind: type[Exception]) -> None:
    exc = construct(kind)
    assert isinstance(exc, client_errors())
    error = translate_error(exc, HOST, MODEL, 300.0)
    if kind in (httpx.ConnectError, httpx.ConnectTimeout):
        assert type(error) is HostUnreachable
        assert error.hosts == (HOST.url,)
    elif kind is httpx.InvalidURL:
        assert type(error) is UsageError
    else:
        assert type(error) is ServerError
        assert error.host == HOST.url
        assert error.status == (502 if kind is httpx.HTTPStatusError else None)
    assert HOST.url in str(error)
    assert "boom" in str(error) or kind is httpx.ReadTimeout


def test_a_read_timeout_says_how_long_the_server_was_silent() -> None:
    error = translate_error(httpx.ReadTimeout("timed out"), HOST, MODEL, 2.5)
    assert type(error) is ServerError
    assert f"sent nothing for 2.5 s while pulling {MODEL} (timeout)" in str(error)


@pytest.mark.parametrize(
    ("exc", "expected", "status", "mentions"),
    [
        (ollama.ResponseError(PULL_MISSING), ModelNotFound, None, "does not exist in the Ollama"),
        (
            ollama.ResponseError(json.dumps({"error": PULL_MISSING}), 500),
            ModelNotFound,
            None,
            "check the name",
        ),
        (ollama.ResponseError('{"error":"model \'x\' not found"}', 404), ModelNotFound, None, "x"),
        (ollama.ResponseError("404 page not found", 404), ServerError, 404, "HTTP 404"),
        (ollama.ResponseError('{"error":"invalid model name"}', 400), UsageError, None, "invalid"),
        (ollama.ResponseError("max retries exceeded: EOF"), ServerError, None, "mid-pull"),
        (ollama.ResponseError('{"error":"server busy"}', 503), ServerError, 503, "HTTP 503"),
    ],
    ids=["midstream-unknown", "500-unknown", "404-model", "404-path", "400", "midstream", "503"],
)
def test_response_errors_are_mapped(
    exc: ollama.ResponseError, expected: type[RewriteError], status: int | None, mentions: str
) -> None:
    error = translate_error(exc, HOST, MODEL, 300.0)
    assert type(error) is expected
    assert mentions in str(error)
    if isinstance(error, ServerError):
        assert error.status == status
    if isinstance(error, ModelNotFound):
        assert (error.model, error.host) == (MODEL, HOST.url)
        assert "rewrite pull" not in str(error)  # the advice that just failed


def malformed_json() -> ValueError:
    try:
        json.loads('{"status": oops}')
    except ValueError as exc:
        return exc
    raise AssertionError("the JSON parsed")


def wrong_field_type() -> ValueError:
    try:
        ollama.ProgressResponse(status="pulling", total="many")
    except ValueError as exc:  # pydantic.ValidationError
        return exc
    raise AssertionError("the field was accepted")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (malformed_json(), ServerError),
        (wrong_field_type(), ServerError),
        (ConnectionRefusedError(111, "Connection refused"), HostUnreachable),
        (ConnectionError("Failed to connect to Ollama"), HostUnreachable),
        (ConnectionResetError(104, "Connection reset by peer"), ServerError),
        (TimeoutError("timed out"), ServerError),
    ],
    ids=["json", "pydantic", "refused", "client-connect", "reset", "socket-timeout"],
)
def test_other_client_failures_are_mapped(exc: Exception, expected: type[RewriteError]) -> None:
    assert isinstance(exc, client_errors())
    error = translate_error(exc, HOST, MODEL, 300.0)
    assert type(error) is expected
    assert HOST.url in str(error)


def failing_pull(exc: Exception) -> Any:
    def pull(self: ollama.Client, model: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        yield from ()
        raise exc

    return pull


@pytest.mark.parametrize(
    "exc",
    [
        ollama.ResponseError(PULL_MISSING),
        ollama.ResponseError("runner crashed", 500),
        httpx.ReadTimeout("timed out", request=REQUEST),
        httpx.RemoteProtocolError("incomplete chunked read", request=REQUEST),
        httpx.ConnectError("[Errno 111] Connection refused", request=REQUEST),
        httpx.ConnectTimeout("timed out", request=REQUEST),
        malformed_json(),
        OSError("bad file descriptor"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_pull_model_raises_the_mapped_error_from_the_original(
    monkeypatch: pytest.MonkeyPatch, exc: Exception
) -> None:
    monkeypatch.setattr(ollama.Client, "pull", failing_pull(exc))
    with pytest.raises(RewriteError) as caught:
        pull_model(settings_for(HOST.url), MODEL, lambda progress: None)
    assert type(caught.value) is type(translate_error(exc, HOST, MODEL, PULL_READ_TIMEOUT))
    if isinstance(caught.value, HostUnreachable):  # all hosts failed: one error about them all
        assert exc in causes(caught.value)
    else:
        assert caught.value.__cause__ is exc


def test_a_pull_that_ends_without_success_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def pull(self: ollama.Client, model: str, **kwargs: Any) -> Iterator[Any]:
        yield ollama.ProgressResponse(status="pulling manifest")

    monkeypatch.setattr(ollama.Client, "pull", pull)
    seen: list[PullProgress] = []
    with pytest.raises(ServerError, match=r"ended the pull of .* before it finished"):
        pull_model(settings_for(HOST.url), MODEL, seen.append)
    assert [p.status for p in seen] == ["pulling manifest"]


def test_errors_of_the_progress_callback_are_not_translated(pullable: StandIn) -> None:
    def broken(progress: PullProgress) -> None:
        raise ValueError("a bug in the view")

    pullable.token_delay = 1.0  # still streaming when the callback fails
    with pytest.raises(ValueError, match="a bug in the view"):
        pull_model(settings_for(pullable.url), MODEL, broken)
    assert pullable.wait_for(lambda: pull_requests(pullable)[-1].disconnected, 5)


# --- real failures, forced on the stand-in ----------------------------------------------


@pytest.mark.parametrize(
    ("fault", "options", "expected", "cause"),
    [
        ("status", {"status": 500}, ServerError, ollama.ResponseError),
        ("status", {"status": 503}, ServerError, ollama.ResponseError),
        ("error_midstream", {"after_chunks": 2}, ServerError, ollama.ResponseError),
        ("malformed", {"after_chunks": 1}, ServerError, ValueError),
        ("truncate", {"after_chunks": 2}, ServerError, ValueError),
        ("die", {"after_chunks": 2}, ServerError, httpx.RemoteProtocolError),
        ("stall", {"after_chunks": 2}, ServerError, httpx.ReadTimeout),
        ("stall_headers", {}, ServerError, httpx.ReadTimeout),
    ],
    ids=["500", "503", "error-midstream", "malformed", "truncate", "die", "stall", "stall-head"],
)
def test_server_faults_become_server_errors(
    pullable: StandIn,
    fault: str,
    options: dict[str, Any],
    expected: type[RewriteError],
    cause: type[Exception],
) -> None:
    pullable.fault(fault, path="/api/pull", **options)
    with pytest.raises(RewriteError) as caught:
        pull_model(settings_for(pullable.url, timeout=0.3), MODEL, lambda progress: None)
    assert type(caught.value) is expected
    assert isinstance(caught.value.__cause__, cause)
    assert pullable.url in str(caught.value)


def test_a_stall_times_out_and_hangs_up(pullable: StandIn) -> None:
    pullable.fault("stall", path="/api/pull", after_chunks=2, seconds=30)
    started = time.monotonic()
    with pytest.raises(ServerError, match=r"sent nothing for 0\.3 s"):
        pull_model(settings_for(pullable.url, timeout=0.3), MODEL, lambda progress: None)
    assert time.monotonic() - started < 10
    assert pullable.wait_for(lambda: pull_requests(pullable)[-1].disconnected, 5)


def test_an_unknown_model_is_model_not_found(pullable: StandIn) -> None:
    with pytest.raises(ModelNotFound, match="does not exist in the Ollama library") as caught:
        pull_model(settings_for(pullable.url), "nope:1b", lambda progress: None)
    assert isinstance(caught.value.__cause__, ollama.ResponseError)
    assert caught.value.__cause__.status_code == -1  # an error line mid-stream


def test_no_server_is_host_unreachable() -> None:
    url = unused_url()
    with pytest.raises(HostUnreachable, match="no Ollama server answers") as caught:
        pull_model(settings_for(url), MODEL, lambda progress: None)
    assert caught.value.hosts == (url,)
    assert any(isinstance(cause, httpx.ConnectError) for cause in causes(caught.value))


# --- pulling --------------------------------------------------------------------------------


def test_progress_sums_the_layers_and_the_model_appears(pullable: StandIn) -> None:
    seen: list[PullProgress] = []
    host = pull_model(settings_for(pullable.url), MODEL, seen.append)
    assert host == pullable.url
    assert MODEL in tags(pullable)
    statuses = [p.status for p in seen]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    assert seen[0].layer is None and seen[-1].layer is None
    layers = list(dict.fromkeys(p.layer for p in seen if p.layer))
    assert len(layers) == 3
    first = next(p for p in seen if p.layer == layers[0])
    assert (first.layer_completed, first.completed) == (0, 0)  # `completed` absent at first
    assert first.total == first.layer_total > 0
    sizes = [max(p.layer_total for p in seen if p.layer == layer) for layer in layers]
    assert seen[-1].completed == seen[-1].total == sum(sizes)
    assert abs(sum(sizes) - 986_000_000) < 1_000
    assert all(
        a.completed <= b.completed and a.total <= b.total for a, b in itertools.pairwise(seen)
    )


def test_a_refused_host_is_skipped(pullable: StandIn) -> None:
    host = pull_model(settings_for(unused_url(), pullable.url), MODEL, lambda progress: None)
    assert host == pullable.url
    assert MODEL in tags(pullable)


def test_proxy_settings_of_the_environment_are_not_used(
    pullable: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, unused_url())
    assert pull_model(settings_for(pullable.url), MODEL, lambda progress: None) == pullable.url


def test_the_read_timeout_is_generous_unless_the_user_chose_one() -> None:
    assert pull_read_timeout(Settings()) == PULL_READ_TIMEOUT == 300.0
    assert pull_read_timeout(Settings(timeout=0.5)) == 0.5
    assert pull_read_timeout(Settings(timeout=900)) == 900


# --- the plain report and the bar's numbers -----------------------------------------------


def test_plain_report_prints_a_layer_at_most_every_ten_percent() -> None:
    lines: list[str] = []
    report = PlainReport(lines.append)
    report.show(PullProgress("pulling manifest"))
    size = 2_000_000_000
    for percent in range(101):
        done = size * percent // 100
        report.show(PullProgress("pulling 4d2f3ab1c4e8", done, size, "sha256:4d2f", done, size))
    report.show(PullProgress("success", size, size))
    assert lines == [
        "pulling manifest",
        "pulling 4d2f3ab1c4e8  2.0 GB",
        *(f"pulling 4d2f3ab1c4e8  {p}% of 2.0 GB" for p in range(10, 101, 10)),
        "success",
    ]


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1_482, "1.5 kB"),
        (11_343, "11.3 kB"),
        (986_000_000, "986 MB"),
        (999_960_000, "1.0 GB"),
        (1_300_000_000, "1.3 GB"),
    ],
)
def test_sizes_read_like_ollama(count: int, text: str) -> None:
    assert format_bytes(count) == text


def test_speed_and_time_left() -> None:
    view = BarView()
    view.update(PullProgress("pulling x", 0, 1_000_000_000), now=100.0)
    assert view.speed is None  # not measured yet
    view.update(PullProgress("pulling x", 20_000_000, 1_000_000_000), now=102.0)
    assert view.speed == 10_000_000
    view.update(PullProgress("pulling x", 120_000_000, 1_000_000_000), now=110.0)
    assert view.speed == 100_000_000 / 8  # the first sample fell out of the 5 s window
    assert view.title() == "pulling x"
    assert format_duration(70.4) == "1:10"
    assert format_duration(3725) == "1:02:05"


# --- the command ------------------------------------------------------------------------------


def test_pull_without_a_terminal_prints_plain_lines(pullable: StandIn, run_cli: RunCli) -> None:
    run = run_cli("pull", MODEL)
    assert run.code == 0, run.stderr
    assert run.text == f"pulled {MODEL} on {pullable.url}\n"
    lines = run.stderr.splitlines()
    assert lines[0] == "rewrite: pulling manifest"
    assert lines[-3:] == [
        "rewrite: verifying sha256 digest",
        "rewrite: writing manifest",
        "rewrite: success",
    ]
    layers = [re.fullmatch(r"rewrite: pulling [0-9a-f]{12}  (\S+ k?M?B)", line) for line in lines]
    assert [m[1] for m in layers if m] == ["986 MB", "1.5 kB", "11.3 kB"]
    steps = [
        re.fullmatch(r"rewrite: pulling [0-9a-f]{12}  (\d+)% of 986 MB", line) for line in lines
    ]
    assert [int(m[1]) for m in steps if m] == [40, 100]
    assert len(lines) == 1 + 3 + 2 + 3
    assert MODEL in tags(pullable)


def test_pull_takes_the_configured_model_and_skips_a_dead_host(
    standin: StandIn, run_cli: RunCli
) -> None:
    standin.pullable["qwen2.5:1.5b"] = ModelSpec("qwen2.5:1.5b")
    run = run_cli("pull", "--host", unused_url(), "--host", standin.url)
    assert run.code == 0, run.stderr
    assert run.text == f"pulled qwen2.5:1.5b on {standin.url}\n"
    assert pull_requests(standin)[-1].body["model"] == "qwen2.5:1.5b"


def test_an_unknown_model_exits_4(standin: StandIn, run_cli: RunCli) -> None:
    run = run_cli("pull", "nope:1b")
    assert run.code == 4, run.stderr
    assert run.stdout == b""
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert "model 'nope:1b' does not exist in the Ollama library: check the name" in last


def test_no_server_exits_3(run_cli: RunCli) -> None:
    run = run_cli("pull", MODEL, env={"OLLAMA_HOST": unused_url()})
    assert run.code == 3, run.stderr
    assert run.stdout == b""
    assert "no Ollama server answers" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_a_stall_exits_1_after_the_configured_timeout(
    pullable: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    write_config(isolated_home, "timeout: 0.5\n")
    pullable.fault("stall", path="/api/pull", after_chunks=2, seconds=60)
    run = run_cli("pull", MODEL)
    assert run.code == 1, run.stderr
    assert run.stdout == b""
    assert "sent nothing for 0.5 s" in run.stderr.strip().splitlines()[-1]
    assert pullable.wait_for(lambda: pull_requests(pullable)[-1].disconnected, 5)
    assert MODEL not in tags(pullable)


def test_ctrl_c_exits_130_and_says_how_to_resume(pullable: StandIn) -> None:
    pullable.token_delay = 0.5
    process = subprocess.Popen(
        [*_command(), "pull", MODEL],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OLLAMA_HOST": pullable.url},
    )
    try:
        assert pullable.wait_for(lambda: pull_requests(pullable)[-1].chunks_sent >= 2, 10)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert stdout == b""
    assert b"Traceback" not in stderr
    assert stderr.decode().splitlines()[-1] == f"rewrite: {RESUME_HINT}"
    assert pullable.wait_for(lambda: pull_requests(pullable)[-1].disconnected, 5)
    assert not pull_requests(pullable)[-1].completed


def test_pull_help_loads_neither_the_client_nor_prompt_toolkit() -> None:
    heavy = ("ollama", "httpx", "pydantic", "prompt_toolkit")
    code = (
        "import sys, rewrite.pull_view; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert done.stdout.decode().strip() == "[]", done.stderr.decode()
    helped = subprocess.run([*_command(), "pull", "--help"], capture_output=True, timeout=30)
    assert helped.returncode == 0
    assert b"MODEL" in helped.stdout


def run_in_terminal(
    args: list[str], env: dict[str, str], seconds: float
) -> tuple[int, bytes, bytes]:
    """Run with stderr on a new pseudo-terminal (100x24) and stdin from /dev/null, as in
    `echo text | rewrite fix`; return the exit code, stdout and everything the terminal got.

    The test answers cursor-position requests the way a terminal does."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env
    )
    os.close(slave)
    screen = bytearray()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 0.1)[0]:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the command closed the terminal
                break
            if not data:
                break
            screen += data
            if b"\x1b[6n" in data:
                os.write(master, b"\x1b[1;1R")
        else:
            pytest.fail(f"the command did not finish within {seconds} s: {bytes(screen)!r}")
        assert process.stdout is not None
        return process.wait(timeout=10), process.stdout.read(), bytes(screen)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)


def test_a_terminal_shows_a_progress_bar(pullable: StandIn) -> None:
    pullable.token_delay = 0.05  # 9 progress lines: the bar has time to draw
    env = {**os.environ, "OLLAMA_HOST": pullable.url, "TERM": "xterm-256color"}
    env.pop("PROMPT_TOOLKIT_NO_CPR", None)
    code, stdout, screen = run_in_terminal([*_command(), "pull", MODEL], env, 30)
    text = screen.decode("utf-8", "replace")
    assert code == 0, text
    assert stdout == f"pulled {MODEL} on {pullable.url}\n".encode()
    assert MODEL in text
    assert re.search(r"\d+\.\d%", text), text
    assert "MB" in text
    assert "\x1b[" in text  # drawn with escape sequences ...
    assert "rewrite: pulling" not in text  # ... not written as plain lines
    assert "Traceback" not in text
    assert MODEL in tags(pullable)


def test_a_rewrite_at_a_terminal_pulls_a_missing_model_first(standin: StandIn) -> None:
    standin.remove_model("qwen2.5:1.5b")
    standin.pullable["qwen2.5:1.5b"] = ModelSpec("qwen2.5:1.5b")
    standin.reply = "They're going."
    env = {**os.environ, "OLLAMA_HOST": standin.url, "TERM": "xterm-256color"}
    code, stdout, screen = run_in_terminal([*_command(), "fix", "their", "going"], env, 30)
    text = screen.decode("utf-8", "replace")
    assert (code, stdout) == (0, b"They're going.\n"), text
    assert "qwen2.5:1.5b is not on the server yet: downloading it once" in text
    assert [r.path for r in standin.requests].count("/api/pull") == 1


def test_auto_pull_false_exits_4_even_at_a_terminal(standin: StandIn, isolated_home: Path) -> None:
    write_config(isolated_home, "auto_pull: false\n")
    standin.remove_model("qwen2.5:1.5b")
    standin.pullable["qwen2.5:1.5b"] = ModelSpec("qwen2.5:1.5b")
    env = {**os.environ, "OLLAMA_HOST": standin.url, "TERM": "xterm-256color"}
    code, stdout, screen = run_in_terminal([*_command(), "fix", "their", "going"], env, 30)
    assert code == 4
    assert stdout == b"their going\n"
    assert b"rewrite pull qwen2.5:1.5b" in screen
    assert "/api/pull" not in [r.path for r in standin.requests]
