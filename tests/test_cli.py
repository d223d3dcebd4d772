"""The `rewrite` filter end to end: the installed command as a subprocess, the stand-in
over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Run, RunCli, _command, write_config
from tests.standin import ModelSpec, StandIn, unused_url


def assert_failed_cleanly(run: Run, code: int, original: bytes, *, mentions: str) -> None:
    """A failure prints one line on stderr, no traceback, and gives the text back unchanged."""
    assert run.code == code, run.stderr
    assert run.stdout == original
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert mentions in run.stderr


def test_fix_from_stdin_prints_the_rewrite(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = "They're going to the store."
    run = run_cli("fix", input="their going too the store\n")
    assert (run.code, run.text) == (0, "They're going to the store.\n")
    body = standin.chat_requests()[-1].body
    assert body["model"] == "qwen2.5:1.5b"
    assert body["keep_alive"] == "30m"
    assert body["stream"] is True
    assert body["options"]["num_ctx"] == 2048
    assert body["options"]["temperature"] == 0
    assert 0 < body["options"]["num_predict"] < 2048
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][-1]["role"] == "user"
    assert body["messages"][-1]["content"].endswith("\n\ntheir going too the store")


def test_text_from_arguments_prints_with_a_newline(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = "They're going to the store."
    run = run_cli("fix", "their", "going", "too", "the", "store")
    assert (run.code, run.text) == (0, "They're going to the store.\n")
    assert (
        standin.chat_requests()[-1]
        .body["messages"][-1]["content"]
        .endswith("their going too the store")
    )


@pytest.mark.parametrize(
    ("original", "reply", "expected"),
    [
        ("  \n  their going\n\n", "They're going.", "  \n  They're going.\n\n"),
        ("line one\r\nline two\r\n", "Line one.\nLine two.", "Line one.\r\nLine two.\r\n"),
        ("no final newline", "No final newline.", "No final newline."),
        ("\tindented\n\tparagraph\n", "Indented\nparagraph.", "\tIndented\n\tparagraph.\n"),
    ],
)
def test_whitespace_frame_comes_back_exactly(
    standin: StandIn, run_cli: RunCli, original: str, reply: str, expected: str
) -> None:
    standin.reply = reply
    run = run_cli("fix", input=original.encode())
    assert (run.code, run.stdout) == (0, expected.encode())
    sent = standin.chat_requests()[-1].body["messages"][-1]["content"]
    assert sent.endswith("\n\n" + original.strip().replace("\r\n", "\n").replace("\t", ""))


def test_chatter_around_the_answer_is_removed(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = (
        "Sure! Here's the corrected text:\n\n\"They're going to the store.\"\n\n"
        "Let me know if you need anything else!"
    )
    run = run_cli("fix", input="their going too the store\n")
    assert (run.code, run.text) == (0, "They're going to the store.\n")


def test_german_with_umlauts_and_emoji_round_trips(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = "Grüße aus München! Das Wetter ist schön 🎉"
    run = run_cli("fix", input="grüsse aus münchen! das wetter ist schön 🎉\n")
    assert (run.code, run.text) == (0, "Grüße aus München! Das Wetter ist schön 🎉\n")
    assert "Keep the language" in standin.chat_requests()[-1].body["messages"][0]["content"]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("", "returned nothing"),
        ("word " * 400, "longer"),
        ("I'm sorry, but I can't help with that request.", "comment on the text"),
    ],
)
def test_guard_keeps_the_original_text(
    standin: StandIn, run_cli: RunCli, reply: str, reason: str
) -> None:
    standin.reply = reply
    original = b"their going too the store\n"
    run = run_cli("fix", input=original)
    assert_failed_cleanly(run, 1, original, mentions=reason)


@pytest.mark.parametrize("original", [b"", b"  \n\t\n"])
def test_empty_and_blank_input_come_back_without_a_model_call(
    standin: StandIn, run_cli: RunCli, original: bytes
) -> None:
    run = run_cli("fix", input=original)
    assert (run.code, run.stdout) == (0, original)
    assert standin.requests == []


def test_input_over_the_limit_is_refused_before_any_request(
    standin: StandIn, run_cli: RunCli
) -> None:
    original = ("word " * 4001).encode()  # 20,005 characters: the default limit is 20,000
    run = run_cli("fix", input=original)
    assert_failed_cleanly(run, 2, original, mentions="20,000")
    assert standin.requests == []


def test_input_too_large_for_the_context_is_refused(
    standin: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    original = ("word " * 2000).encode()
    run = run_cli("fix", input=original)
    assert_failed_cleanly(run, 2, original, mentions="num_ctx")
    assert standin.chat_requests() == []


def test_invalid_utf8_is_refused_and_given_back(standin: StandIn, run_cli: RunCli) -> None:
    original = b"caf\xe9 au lait\n"
    run = run_cli("fix", input=original)
    assert_failed_cleanly(run, 2, original, mentions="not valid UTF-8")
    assert standin.requests == []


def test_ad_hoc_instruction(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = "Arr, the ship be late."
    run = run_cli("--instruction", "make it sound like a pirate", input="The ship is late.\n")
    assert (run.code, run.text) == (0, "Arr, the ship be late.\n")
    assert (
        "make it sound like a pirate" in standin.chat_requests()[-1].body["messages"][0]["content"]
    )


def test_translate_takes_a_target_language(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = "Das Schiff hat Verspätung."
    run = run_cli("translate", "--to", "German", input="The ship is late.\n")
    assert (run.code, run.text) == (0, "Das Schiff hat Verspätung.\n")
    system = standin.chat_requests()[-1].body["messages"][0]["content"]
    assert "into German" in system


def test_json_output_carries_timings(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = "They're going."
    standin.load_delay = 0.05
    run = run_cli("fix", "--json", input="their going\n")
    assert run.code == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["text"] == "They're going.\n"
    assert (result["model"], result["action"], result["cached"]) == ("qwen2.5:1.5b", "fix", False)
    assert result["host"] == standin.url
    timings = result["timings"]
    assert timings["load_ms"] >= 50
    assert timings["total_ms"] >= timings["load_ms"]
    assert timings["first_token_ms"] is not None and timings["wall_ms"] >= timings["first_token_ms"]
    assert timings["output_tokens"] >= 2


def test_thinking_is_switched_off_only_for_thinking_models(
    standin: StandIn, run_cli: RunCli
) -> None:
    standin.add_model(ModelSpec("qwen3:1.7b", capabilities=("completion", "thinking")))
    standin.reply = "Fine."
    assert run_cli("fix", "--model", "qwen3:1.7b", input="fine\n").code == 0
    assert standin.chat_requests()[-1].body["think"] is False
    assert run_cli("fix", input="fine\n").code == 0
    assert "think" not in standin.chat_requests()[-1].body


def test_a_down_host_falls_back_to_the_next(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = "Fine."
    run = run_cli("fix", "--host", unused_url(), "--host", standin.url, input="fine\n")
    assert (run.code, run.text) == (0, "Fine.\n")


def test_no_server_exits_3_naming_the_host(run_cli: RunCli) -> None:
    dead = unused_url()
    original = b"fine\n"
    run = run_cli("fix", input=original, env={"OLLAMA_HOST": dead})
    assert_failed_cleanly(run, 3, original, mentions=dead)
    assert "ollama" in run.stderr.lower()


def test_unknown_model_exits_4_suggesting_a_pull(standin: StandIn, run_cli: RunCli) -> None:
    original = b"fine\n"
    run = run_cli("fix", "--model", "nosuch:1b", input=original)
    assert_failed_cleanly(run, 4, original, mentions="rewrite pull nosuch:1b")


@pytest.mark.parametrize(
    ("kind", "extra", "mentions"),
    [
        ("status", {"status": 400}, "400"),
        ("status", {"status": 500}, "500"),
        ("status", {"status": 503, "times": 2}, "503"),  # the second try fails too
        ("error_midstream", {"message": "runner crashed"}, "runner crashed"),
        ("malformed", {}, "malformed"),
        ("truncate", {}, "middle of a line"),
        ("die", {}, "before the reply was complete"),
    ],
)
def test_server_faults_exit_1_with_the_text_intact(
    standin: StandIn, run_cli: RunCli, kind: str, extra: dict[str, object], mentions: str
) -> None:
    standin.reply = "They are going to the store today."
    standin.fault(kind, **extra)  # type: ignore[arg-type]
    original = b"their going to the store today\n"
    run = run_cli("fix", input=original)
    assert_failed_cleanly(run, 1, original, mentions=mentions)


def test_a_stall_past_the_timeout_exits_1(
    standin: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    write_config(isolated_home, "timeout: 0.5\n")
    standin.fault("stall", after_chunks=1, seconds=10)
    original = b"their going\n"
    run = run_cli("fix", input=original)
    assert_failed_cleanly(run, 1, original, mentions="timeout")


@pytest.mark.parametrize(
    ("signum", "code", "says"),
    [
        (signal.SIGINT, 130, "interrupted"),
        (signal.SIGTERM, 143, "terminated"),
        (signal.SIGHUP, 129, "hung up"),
    ],
)
def test_a_signal_mid_stream_gives_the_input_back_and_closes_the_stream(
    standin: StandIn, signum: int, code: int, says: str
) -> None:
    standin.reply = "one two three four five six seven eight nine ten"
    standin.token_delay = 0.3
    env = {**os.environ, "OLLAMA_HOST": standin.url}
    process = subprocess.Popen(
        [*_command(), "fix"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdin is not None
    process.stdin.write(b"one two three\n")
    process.stdin.close()
    assert standin.wait_for(lambda: any(r.chunks_sent > 0 for r in standin.chat_requests()), 10)
    process.send_signal(signum)
    assert process.wait(timeout=10) == code
    assert process.stdout is not None and process.stderr is not None
    stdout, stderr = process.stdout.read(), process.stderr.read()
    assert stderr.decode() == f"rewrite: {says}\n"
    assert stdout == b"one two three\n"
    assert standin.wait_for(lambda: standin.chat_requests()[-1].disconnected, 10)
    assert not standin.chat_requests()[-1].completed


def test_actions_lists_builtins_and_config_actions(run_cli: RunCli, isolated_home: Path) -> None:
    write_config(
        isolated_home,
        "actions:\n  pirate:\n    description: Say it like a pirate\n"
        "    instruction: Rewrite it as a pirate would say it.\n",
    )
    run = run_cli("actions")
    assert run.code == 0, run.stderr
    names = [line.split()[0] for line in run.text.splitlines()]
    assert names == sorted(
        ["fix", "rephrase", "concise", "formal", "friendly", "simplify", "translate", "pirate"]
    )
    described = dict(line.split(None, 1) for line in run.text.splitlines())
    assert described["pirate"] == "Say it like a pirate"


def test_a_config_action_with_a_parameter(
    standin: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    write_config(
        isolated_home,
        "actions:\n  letter:\n    description: A letter\n"
        "    instruction: Rewrite the text as a letter to {name}.\n    params: {name: Sam}\n",
    )
    standin.reply = "Dear Kim, hi."
    assert run_cli("letter", "--param", "name=Kim", input="hi\n").code == 0
    assert "a letter to Kim." in standin.chat_requests()[-1].body["messages"][0]["content"]
    assert run_cli("letter", input="hi\n").code == 0
    assert "a letter to Sam." in standin.chat_requests()[-1].body["messages"][0]["content"]


def test_unknown_action_is_a_usage_error(standin: StandIn, run_cli: RunCli) -> None:
    run = run_cli("frobnicate", input=b"text\n")
    assert_failed_cleanly(run, 2, b"text\n", mentions="unknown action 'frobnicate'")
    assert standin.requests == []


def test_help_documents_the_exit_codes(run_cli: RunCli) -> None:
    run = run_cli("--help")
    assert run.code == 0
    for code in ("0", "1", "2", "3", "4", "130"):
        assert f"\n  {code} " in run.text


def test_capabilities_are_asked_once_then_remembered(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = "Fine."
    assert run_cli("fix", input="fine\n").code == 0
    assert run_cli("fix", input="also fine\n").code == 0
    shows = [r for r in standin.requests if r.path == "/api/show"]
    assert len(shows) == 1
    assert len(standin.chat_requests()) == 2


def test_a_model_removed_after_it_was_remembered_exits_4(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = "Fine."
    assert run_cli("fix", input="fine\n").code == 0
    standin.remove_model("qwen2.5:1.5b")
    run = run_cli("fix", "--no-cache", input=b"fine\n")
    assert_failed_cleanly(run, 4, b"fine\n", mentions="rewrite pull qwen2.5:1.5b")
    standin.add_model(ModelSpec("qwen2.5:1.5b"))
    assert run_cli("fix", "--no-cache", input="fine\n").code == 0


def test_a_server_that_is_not_ollama_is_named(standin: StandIn, run_cli: RunCli) -> None:
    original = b"fine\n"
    run = run_cli("fix", "--host", f"{standin.url}/not-ollama", input=original)
    assert_failed_cleanly(run, 1, original, mentions="404")
    assert standin.requests[-1].path == "/not-ollama/api/show"


def test_https_to_a_plain_http_server_fails_as_unreachable(
    standin: StandIn, run_cli: RunCli
) -> None:
    port = standin.url.rsplit(":", 1)[1]
    original = b"fine\n"
    run = run_cli("fix", "--host", f"https://127.0.0.1:{port}", input=original)
    assert_failed_cleanly(run, 3, original, mentions="TLS")
