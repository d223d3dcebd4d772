"""Choosing a host (pure) and the record the processes share (sqlite in a folder)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewrite.errors import (
    AccessDenied,
    HostUnreachable,
    ModelNotFound,
    RejectedReply,
    ServerError,
)
from rewrite.hostbook import FIRST_COOLDOWN, LONGEST_COOLDOWN, HostBook, HostView
from rewrite.hosts import Host, parse_host
from rewrite.pool import COLD_PENALTY, is_host_failure, may_try_elsewhere, order

A, B, C = (parse_host(f"http://10.0.0.{n}:11434") for n in (1, 2, 3))
MODEL = "qwen2.5:1.5b"


def views(**known: HostView) -> dict[str, HostView]:
    found = {host.url: HostView(host.url) for host in (A, B, C)}
    for name, view in known.items():
        host = {"a": A, "b": B, "c": C}[name]
        found[host.url] = view.replace(url=host.url)
    return found


def test_a_host_that_lacks_the_model_is_left_out_for_that_model_only() -> None:
    known = views(a=HostView("", missing=frozenset({MODEL})))
    for seed in range(20):
        assert A not in order([A, B], known, MODEL, random.Random(seed))
        assert A in order([A, B], known, "llama3.2:3b", random.Random(seed))


def test_when_every_host_lacks_the_model_they_are_all_asked() -> None:
    gone = HostView("", missing=frozenset({MODEL}))
    assert {h.url for h in order([A, B], views(a=gone, b=gone), MODEL)} == {A.url, B.url}


def test_a_host_with_the_model_loaded_goes_first() -> None:
    known = views(b=HostView("", loaded=frozenset({MODEL})))
    assert all(order([A, B, C], known, MODEL, random.Random(s))[0] == B for s in range(50))


def test_down_hosts_come_last_soonest_back_first() -> None:
    now = 1000.0
    known = views(a=HostView("", down_until=now + 30), c=HostView("", down_until=now + 5))
    for seed in range(20):
        assert order([A, B, C], known, MODEL, random.Random(seed), now) == [B, C, A]
    everyone_down = views(
        a=HostView("", down_until=now + 30),
        b=HostView("", down_until=now + 9),
        c=HostView("", down_until=now + 5),
    )
    assert order([A, B, C], everyone_down, MODEL, now=now) == [C, B, A]


def test_a_host_past_its_cooldown_is_up_again() -> None:
    known = views(a=HostView("", down_until=999.0, failures=3))
    assert A in order([A], known, MODEL, now=1000.0)[:1]


def test_a_hosts_models_list_keeps_other_models_away() -> None:
    only_small = A.replace(models=("qwen2.5:0.5b",))
    assert order([only_small, B], views(), MODEL) == [B]
    assert order([only_small, B], views(), "QWEN2.5:0.5B")[0] in (only_small, B)


def loaded(in_flight: int = 0) -> HostView:
    return HostView("", in_flight=in_flight, loaded=frozenset({MODEL}))


@given(st.lists(st.integers(0, 20), min_size=3, max_size=3), st.integers(0, 2**32))
def test_the_order_holds_every_host_once_least_loaded_first(loads: list[int], seed: int) -> None:
    known = views(**{n: loaded(k) for n, k in zip("abc", loads, strict=True)})
    chosen = order([A, B, C], known, MODEL, random.Random(seed))
    assert sorted(h.url for h in chosen) == sorted(h.url for h in (A, B, C))
    counts = [known[h.url].in_flight for h in chosen]
    assert counts == sorted(counts)


def test_an_idle_pool_shares_by_weight() -> None:
    heavy, rng = C.replace(weight=2.0), random.Random(5)
    idle = views(a=loaded(), b=loaded(), c=loaded())
    firsts = Counter(order([A, B, heavy], idle, MODEL, rng)[0].url for _ in range(8000))
    assert firsts[heavy.url] / 8000 == pytest.approx(0.5, abs=0.03)
    assert firsts[A.url] / 8000 == pytest.approx(0.25, abs=0.03)


def test_the_model_stays_where_it_is_loaded_until_that_host_is_busier() -> None:
    for busy in range(COLD_PENALTY + 1):  # a tie at COLD_PENALTY goes to the loaded host
        assert order([A, B], views(b=loaded(busy)), MODEL)[0] == B
    assert order([A, B], views(b=loaded(COLD_PENALTY + 1)), MODEL)[0] == A


def test_weights_divide_the_load() -> None:
    """Placing requests that all stay in flight: each host gets its weight's share."""
    heavy = C.replace(weight=2.0)
    hosts, rng = [A, B, heavy], random.Random(3)
    flights = Counter[str]()
    for _ in range(400):
        known = {h.url: HostView(h.url, in_flight=flights[h.url]) for h in hosts}
        flights[order(hosts, known, MODEL, rng)[0].url] += 1
    assert flights[heavy.url] == pytest.approx(200, abs=2)
    assert flights[A.url] == pytest.approx(100, abs=2)


@pytest.mark.parametrize(
    ("error", "down", "elsewhere"),
    [
        (HostUnreachable("refused"), True, True),
        (AccessDenied("401"), False, True),
        (ServerError("500", status=500), True, True),
        (ServerError("502", status=502), True, True),
        (ServerError("busy", status=503), False, True),
        (ServerError("slow down", status=429), False, True),
        (ServerError("bad request", status=400), False, True),
        (ServerError("stalled"), True, True),
        (RejectedReply("chatter", reply="x"), False, False),
        (ModelNotFound(MODEL), False, True),
    ],
)
def test_what_counts_as_a_host_failure(error: Exception, down: bool, elsewhere: bool) -> None:
    assert (is_host_failure(error), may_try_elsewhere(error)) == (down, elsewhere)


# The shared record


def test_a_failure_is_shared_with_another_process(tmp_path: Path) -> None:
    one, other = HostBook(str(tmp_path)), HostBook(str(tmp_path))
    until = one.failed(A.url, "connection refused")
    seen = other.views([A.url, B.url])
    assert seen[A.url].is_down() and not seen[B.url].is_down()
    assert (seen[A.url].down_until, seen[A.url].failures) == (until, 1)
    assert seen[A.url].last_error == "connection refused"
    other.recovered(A.url)
    assert not one.views([A.url])[A.url].is_down()


def test_cooldowns_double_up_to_a_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    book = HostBook(str(tmp_path))
    clock = [1000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    cooldowns = []
    for _ in range(8):
        until = book.failed(A.url, "refused")
        assert book.failed(A.url, "refused meanwhile") == until  # the same failure
        cooldowns.append(until - clock[0])
        clock[0] = until  # the cooldown is over: the next failure is the next in a row
    assert cooldowns == [min(LONGEST_COOLDOWN, FIRST_COOLDOWN * 2**n) for n in range(8)]
    assert book.views([A.url])[A.url].failures == 8


def test_requests_in_flight_are_counted_across_processes(tmp_path: Path) -> None:
    one, other = HostBook(str(tmp_path)), HostBook(str(tmp_path))
    flights = [one.begin(A.url), one.begin(A.url), other.begin(B.url)]
    assert {u: v.in_flight for u, v in other.views([A.url, B.url]).items()} == {
        A.url: 2,
        B.url: 1,
    }
    for flight in flights:
        one.end(flight)
    assert other.views([A.url])[A.url].in_flight == 0


def test_a_flight_of_a_process_that_died_is_not_counted(tmp_path: Path) -> None:
    code = (
        f"import sys; from rewrite.hostbook import HostBook; HostBook(sys.argv[1]).begin({A.url!r})"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    assert HostBook(str(tmp_path)).views([A.url])[A.url].in_flight == 0


def test_answers_mark_the_model_loaded_and_keep_first_token_times(tmp_path: Path) -> None:
    book = HostBook(str(tmp_path))
    for ms in range(1, 101):
        book.answered(A.url, "Qwen2.5:1.5B", float(ms))
    view = book.views([A.url])[A.url]
    assert view.loaded == {"qwen2.5:1.5b"}
    assert len(view.first_tokens) == 50 and view.first_tokens[-1] == 100.0
    assert view.first_token_ms(0.5) == 76.0 and view.first_token_ms(0.95) == 98.0
    book.has_loaded(A.url, ["llama3.2:3b"])
    assert book.views([A.url])[A.url].loaded == {"llama3.2:3b"}
    book.lacks(A.url, MODEL)
    assert book.views([A.url])[A.url].missing == {MODEL}


def test_a_folder_that_cannot_be_used_leaves_a_record_of_this_process(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    book = HostBook(str(blocked / "cache"))
    book.failed(A.url, "refused")
    assert book.views([A.url])[A.url].failures == 1


def test_the_record_is_private(tmp_path: Path) -> None:
    HostBook(str(tmp_path / "cache")).failed(A.url, "refused")
    assert os.stat(tmp_path / "cache").st_mode & 0o077 == 0


def test_hosts_sort_by_weight_in_their_description() -> None:
    weighted: Host = A.replace(weight=2.5, models=("m",))
    assert weighted.describe() == {"url": A.url, "api": "ollama", "weight": 2.5, "models": ["m"]}
    assert weighted.serves("M") and not weighted.serves("other")
