"""The cache of earlier rewrites: hits without Ollama, what the key covers, and its failures."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rewrite import Engine, RewriteRequest, load_settings
from rewrite.cache import Cache, ModelInfo
from rewrite.config import Overrides
from rewrite.errors import Cancelled
from tests.conftest import RunCli, _command, write_config
from tests.standin import StandIn


def cache_file(home: Path) -> Path:
    return home / "cache" / "rewrite" / "cache.sqlite3"


def test_a_repeat_is_answered_from_the_cache_without_the_server(
    standin: StandIn, run_cli: RunCli
) -> None:
    standin.reply = "They're going."
    first = run_cli("fix", "--json", input="their going\n")
    assert json.loads(first.stdout)["cached"] is False
    url = standin.url
    standin.stop()
    second = run_cli("fix", "--json", input="their going\n", env={"OLLAMA_HOST": url})
    assert second.code == 0, second.stderr
    result = json.loads(second.stdout)
    assert (result["cached"], result["text"]) == (True, "They're going.\n")
    assert len(standin.chat_requests()) == 1


def test_the_frame_comes_from_the_new_input_not_the_cached_one(
    standin: StandIn, run_cli: RunCli
) -> None:
    standin.reply = "They're going."
    assert run_cli("fix", input="their going\n").text == "They're going.\n"
    again = run_cli("fix", input="  their going\r\n\r\n")
    assert again.stdout == b"  They're going.\r\n\r\n"
    assert len(standin.chat_requests()) == 1


@pytest.mark.parametrize(
    "change",
    [
        ("rephrase",),
        ("fix", "--model", "llama3.2:3b"),
        ("translate", "--to", "German"),
        ("--instruction", "make it formal"),
    ],
)
def test_the_key_covers_action_model_and_parameters(
    standin: StandIn, run_cli: RunCli, change: tuple[str, ...]
) -> None:
    from tests.standin import ModelSpec

    standin.add_model(ModelSpec("llama3.2:3b"))
    standin.reply = "They're going."
    assert run_cli("fix", input="their going\n").code == 0
    assert run_cli("translate", input="their going\n").code == 0
    run = run_cli(*change, "--json", input="their going\n")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["cached"] is False


def test_no_cache_neither_reads_nor_writes(standin: StandIn, run_cli: RunCli) -> None:
    standin.reply = "They're going."
    assert run_cli("fix", "--no-cache", input="their going\n").code == 0
    assert run_cli("fix", "--no-cache", input="their going\n").code == 0
    assert len(standin.chat_requests()) == 2
    stats = json.loads(run_cli("cache", "stats", "--json").stdout)
    assert stats["entries"] == 0


def test_only_deterministic_requests_are_cached_unless_configured(
    standin: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    standin.reply = "They're going."
    write_config(isolated_home, "options: {temperature: 0.7}\n")
    for _ in range(2):
        assert run_cli("fix", input="their going\n").code == 0
    assert len(standin.chat_requests()) == 2
    write_config(isolated_home, "options: {temperature: 0.7}\ncache: {deterministic_only: false}\n")
    for _ in range(2):
        assert run_cli("fix", input="their going\n").code == 0
    assert len(standin.chat_requests()) == 3


def test_a_disabled_cache_sends_every_request(
    standin: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    standin.reply = "They're going."
    write_config(isolated_home, "cache: {enabled: false}\n")
    for _ in range(2):
        assert run_cli("fix", input="their going\n").code == 0
    assert len(standin.chat_requests()) == 2


def test_file_and_folder_are_private(
    standin: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    standin.reply = "They're going."
    assert run_cli("fix", input="their going\n").code == 0
    path = cache_file(isolated_home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_corrupt_file_is_moved_aside_with_one_warning(
    standin: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    standin.reply = "They're going."
    path = cache_file(isolated_home)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, just bytes " * 100)
    run = run_cli("fix", input="their going\n")
    assert (run.code, run.text) == (0, "They're going.\n")
    warnings = [line for line in run.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "moved it to" in warnings[0], run.stderr
    assert list(path.parent.glob("cache.sqlite3.corrupt-*"))
    again = run_cli("fix", "--json", input="their going\n")
    assert (json.loads(again.stdout)["cached"], again.stderr) == (True, "")


def test_an_unusable_cache_folder_turns_the_disk_cache_off(
    standin: StandIn, run_cli: RunCli, isolated_home: Path
) -> None:
    standin.reply = "They're going."
    (isolated_home / "cache" / "rewrite").write_text("a file where the folder should be")
    run = run_cli("fix", input="their going\n")
    assert (run.code, run.text) == (0, "They're going.\n")
    warnings = [line for line in run.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "caching on disk is off" in warnings[0], run.stderr


class _ReadOnlyCache(Cache):
    """Opens its file the way a read-only file system would let it (root ignores modes)."""

    def _open(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)


def test_a_read_only_database_turns_the_disk_cache_off(tmp_path: Path) -> None:
    Cache(str(tmp_path), max_entries=10).put("k", "v", "m")
    warnings: list[str] = []
    cache = _ReadOnlyCache(str(tmp_path), max_entries=10, warn=warnings.append)
    assert cache.get("k") == "v"  # reading still works
    cache.put("k2", "v2", "m")
    cache.put("k3", "v3", "m")
    assert len(warnings) == 1 and "caching on disk is off" in warnings[0]
    assert "readonly" in warnings[0]
    assert cache.get("k2") == "v2"  # the memory part still works
    assert Cache(str(tmp_path), max_entries=10).get("k2") is None


def test_rows_that_are_not_utf8_text_are_damage_moved_aside_once(tmp_path: Path) -> None:
    Cache(str(tmp_path), max_entries=10).put("k", "v", "m")
    with sqlite3.connect(tmp_path / "cache.sqlite3") as db:  # another writer's raw bytes
        db.execute("UPDATE rewrites SET text = CAST(x'ff00fe' AS TEXT)")
        db.execute("INSERT INTO models VALUES ('host m', 5, 6, 'not a time')")
    warnings: list[str] = []
    cache = Cache(str(tmp_path), max_entries=10, warn=warnings.append)
    assert cache.model_info("host m") is None
    assert cache.get("k") is None
    assert len(warnings) == 1 and "moved it to" in warnings[0]
    cache.put("k", "fresh", "m")
    assert Cache(str(tmp_path), max_entries=10).get("k") == "fresh"


def test_rows_of_other_types_are_misses_never_text(tmp_path: Path) -> None:
    Cache(str(tmp_path), max_entries=10).put("k", "v", "m")
    with sqlite3.connect(tmp_path / "cache.sqlite3") as db:
        db.execute("UPDATE rewrites SET text = x'6869'")  # a blob stays a blob
    assert Cache(str(tmp_path), max_entries=10).get("k") is None


def test_entries_are_bounded_and_the_oldest_go_first(tmp_path: Path) -> None:
    cache = Cache(str(tmp_path), max_entries=3)
    for n in range(5):
        cache.put(f"key{n}", f"text{n}", "m")
    fresh = Cache(str(tmp_path), max_entries=3)  # no memory of the puts above
    assert [fresh.get(f"key{n}") for n in range(5)] == [None, None, "text2", "text3", "text4"]
    assert fresh.stats().entries == 3


def test_model_information_is_remembered(tmp_path: Path) -> None:
    cache = Cache(str(tmp_path), max_entries=3)
    cache.remember_model("host model", ModelInfo(("completion", "thinking"), "sha256:abc"))
    assert Cache(str(tmp_path), max_entries=3).model_info("host model") == ModelInfo(
        ("completion", "thinking"), "sha256:abc"
    )
    cache.forget_model("host model")
    assert cache.model_info("host model") is None


def test_concurrent_processes_share_the_file(standin: StandIn, isolated_home: Path) -> None:
    standin.token_delay = 0.01
    env = {**os.environ, "OLLAMA_HOST": standin.url}
    processes = [
        subprocess.Popen(
            [*_command(), "fix", f"text number {n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for n in range(8)
    ]
    outcomes = [(p.wait(timeout=60), p.stderr.read() if p.stderr else b"") for p in processes]
    assert outcomes == [(0, b"")] * 8
    stats = Cache(str(isolated_home / "cache" / "rewrite"), max_entries=100).stats()
    assert stats.entries == 8


def test_identical_requests_in_flight_are_sent_once(standin: StandIn) -> None:
    standin.reply = "one two three four five"
    standin.token_delay = 0.05
    engine = Engine(load_settings(Overrides(hosts=(standin.url,))))
    results: list[str] = []

    def rewrite() -> None:
        results.append(engine.rewrite(RewriteRequest("one two three four five")).text)

    threads = [threading.Thread(target=rewrite) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == ["one two three four five"] * 4
    assert len(standin.chat_requests()) == 1


def test_a_hit_imports_nothing_of_the_network(standin: StandIn) -> None:
    standin.reply = "They're going."
    code = "import sys; from rewrite.cli import main; main(['fix']); print(sorted(sys.modules))"

    def modules() -> set[str]:
        done = subprocess.run(
            [sys.executable, "-c", code],
            input=b"their going\n",
            capture_output=True,
            env={**os.environ, "OLLAMA_HOST": standin.url},
            check=True,
        )
        listed = done.stdout.decode().splitlines()[-1]
        return set(json.loads(listed.replace("'", '"')))

    assert "socket" in modules()  # the miss talked to the server
    hit = modules()
    assert not {"socket", "rewrite.wire", "rewrite.backend", "ssl"} & hit


def test_cache_clear_and_stats(standin: StandIn, run_cli: RunCli) -> None:
    for text in ("one\n", "two\n"):  # echoed back
        assert run_cli("fix", input=text).code == 0
    stats = run_cli("cache", "stats")
    assert stats.code == 0 and "2 of at most 20000 rewrites" in stats.text
    assert "qwen2.5:1.5b: 2" in stats.text
    cleared = run_cli("cache", "clear")
    assert cleared.code == 0 and cleared.text.startswith("cleared 2 cached rewrites")
    assert json.loads(run_cli("cache", "stats", "--json").stdout)["entries"] == 0


def test_a_cancelled_request_in_flight_leaves_its_joiners_to_carry_on(standin: StandIn) -> None:
    """A double press during a slow reply, then the first press cancelled: the second one
    still gets its rewrite, from a request of its own."""
    standin.reply = "one two three four five"
    standin.token_delay = 0.05
    engine = Engine(load_settings(Overrides(hosts=(standin.url,))))
    first = engine.stream(RewriteRequest("one two three four five"))
    pieces = iter(first)
    next(pieces)  # the first request is streaming
    outcome: list[object] = []

    def second() -> None:
        try:
            outcome.append(engine.rewrite(RewriteRequest("one two three four five")).text)
        except Exception as error:
            outcome.append(error)

    joiner = threading.Thread(target=second)
    joiner.start()
    assert standin.wait_for(lambda: len(standin.chat_requests()) == 1)
    first.close()
    with pytest.raises(Cancelled):
        list(pieces)
    joiner.join(timeout=30)
    assert outcome == ["one two three four five"]
    assert len(standin.chat_requests()) == 2  # the joiner asked for itself
    later = engine.rewrite(RewriteRequest("one two three four five"))
    assert later.cached and len(standin.chat_requests()) == 2
