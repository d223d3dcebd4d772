"""Texts longer than one request holds: split at paragraphs, rewritten at once over every
host, put back byte for byte; one paragraph refused gives the whole input back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewrite import Engine, RewriteRequest
from rewrite.config import Settings
from rewrite.errors import InputError, RejectedReply
from rewrite.hosts import parse_host
from tests.conftest import RunCli, write_config
from tests.standin import StandIn
from tests.test_several_hosts import fix_reply, fixed

SMALL_CONTEXT = 800  # room for a paragraph of a few hundred characters, not for ten
WORDS = ["maple", "river", "quiet", "seven", "paper", "lantern", "harbor", "winter", "copper"]
SEPARATORS = ["\n\n", "\r\n\r\n", "\n \n\t\n", "\n\n\n"]


@pytest.fixture
def three() -> Iterator[list[StandIn]]:
    servers = [StandIn(reply=fix_reply).start() for _ in range(3)]
    yield servers
    for server in servers:
        server.stop()


def engine_over(servers: list[StandIn], num_ctx: int = SMALL_CONTEXT) -> Engine:
    hosts = tuple(parse_host(server.url) for server in servers)
    return Engine(Settings(hosts=hosts, options={"num_ctx": num_ctx, "temperature": 0}))


def paragraph(seed: int, length: int = 200) -> str:
    words = [WORDS[(seed * 7 + n * 3) % len(WORDS)] for n in range(length // 6)]
    return f"paragraph {seed} " + " ".join(words)


def rewrites(servers: list[StandIn]) -> int:
    return sum(
        1 for server in servers for r in server.chat_requests() if r.body and r.body["messages"]
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    count=st.integers(4, 9),
    seeds=st.randoms(use_true_random=False),
    lead=st.sampled_from(["", "\n", "  \n\n"]),
    tail=st.sampled_from(["", "\n", "\r\n", "\n\n"]),
)
def test_paragraphs_come_back_in_place_with_every_separator_exact(
    three: list[StandIn], count: int, seeds: object, lead: str, tail: str
) -> None:
    import random

    rng = seeds if isinstance(seeds, random.Random) else random.Random(0)
    paragraphs = [paragraph(rng.randrange(10_000), rng.randrange(120, 300)) for _ in range(count)]
    inner = [rng.choice(["\n", "\r\n"]) for _ in paragraphs]  # some paragraphs hold two lines
    paragraphs = [
        p.replace(" river ", f" river{inner[n]}", 1) if n % 2 else p
        for n, p in enumerate(paragraphs)
    ]
    separators = [rng.choice(SEPARATORS) for _ in paragraphs[1:]]
    text = lead + "".join(p + s for p, s in zip(paragraphs, [*separators, ""], strict=True)) + tail
    expected = (
        lead
        + "".join(fixed(p) + s for p, s in zip(paragraphs, [*separators, ""], strict=True))
        + tail
    )
    result = engine_over(three).rewrite(RewriteRequest(text, "fix", use_cache=False))
    assert result.text == expected


def test_a_thirty_paragraph_document_is_shared_by_three_hosts(
    three: list[StandIn], run_cli: RunCli, isolated_home: Path
) -> None:
    paragraphs = [paragraph(n) for n in range(30)]
    text = "\n\n".join(paragraphs) + "\n"
    write_config(isolated_home, "hosts:\n" + "".join(f"  - {s.url}\n" for s in three))
    run = run_cli("fix", input=text, env={"OLLAMA_HOST": ""})
    assert run.code == 0, run.stderr
    assert run.text == "\n\n".join(fixed(p) for p in paragraphs) + "\n"
    served = [len([r for r in s.chat_requests() if r.body and r.body["messages"]]) for s in three]
    assert sum(served) == 30 and all(served), served
    paragraphs[17] = paragraph(99)  # one paragraph edited: only it is sent again
    again = run_cli("fix", input="\n\n".join(paragraphs) + "\n", env={"OLLAMA_HOST": ""})
    assert again.code == 0 and fixed(paragraph(99)) in again.text
    assert rewrites(three) == 31


def test_one_refused_paragraph_gives_the_whole_input_back(
    three: list[StandIn], run_cli: RunCli, isolated_home: Path
) -> None:
    paragraphs = [paragraph(n) for n in range(12)]
    paragraphs[5] = "please refuse " + paragraphs[5]

    def reply(body: dict[str, object]) -> str:
        text = fix_reply(body)  # type: ignore[arg-type]
        return "I cannot help with that." if "Please refuse" in text else text

    for server in three:
        server.reply = reply
    text = "\n\n".join(paragraphs) + "\n"
    write_config(isolated_home, "hosts:\n" + "".join(f"  - {s.url}\n" for s in three))
    run = run_cli("fix", input=text, env={"OLLAMA_HOST": ""})
    assert (run.code, run.stdout) == (1, text.encode())
    assert run.stderr.count("\n") == 1 and "rejected" in run.stderr


def test_a_refusal_raises_from_the_engine_too(three: list[StandIn]) -> None:
    three[0].reply = three[1].reply = three[2].reply = "I cannot help with that."
    text = "\n\n".join(paragraph(n) for n in range(8))
    with pytest.raises(RejectedReply):
        engine_over(three).rewrite(RewriteRequest(text, "fix", use_cache=False))


def test_fenced_code_is_kept_and_never_sent(three: list[StandIn]) -> None:
    code = "```python\nx = 1\n\n\ny = 2\n```"
    paragraphs = [paragraph(n) for n in range(6)]
    text = "\n\n".join([*paragraphs[:3], code, *paragraphs[3:]])
    result = engine_over(three).rewrite(RewriteRequest(text, "fix", use_cache=False))
    assert result.text == "\n\n".join(
        [*map(fixed, paragraphs[:3]), code, *map(fixed, paragraphs[3:])]
    )
    sent = [r.body["messages"][-1]["content"] for s in three for r in s.chat_requests()]
    assert not any("x = 1" in content for content in sent)


def test_a_paragraph_too_long_on_its_own_says_so() -> None:
    engine = Engine(Settings(hosts=(parse_host("http://127.0.0.1:9"),), options={"num_ctx": 800}))
    long = paragraph(2, 3000)
    text = paragraph(1) + "\n\n" + long
    with pytest.raises(InputError, match=f"^a paragraph of {len(long):,} characters is too long"):
        engine.rewrite(RewriteRequest(text, "fix"))


def test_one_paragraph_too_long_is_refused_as_before() -> None:
    engine = Engine(Settings(hosts=(parse_host("http://127.0.0.1:9"),), options={"num_ctx": 800}))
    with pytest.raises(InputError, match="too long for the model's context"):
        engine.rewrite(RewriteRequest(paragraph(1, 3000), "fix"))


def test_the_shell_and_editors_see_the_paragraphs_in_order(three: list[StandIn]) -> None:
    paragraphs = [paragraph(n) for n in range(10)]
    stream = engine_over(three).stream(RewriteRequest("\n\n".join(paragraphs), "fix"))
    pieces = list(stream)
    assert "".join(pieces) == "\n\n".join(map(fixed, paragraphs))
    assert stream.result is not None and stream.result.text == "".join(pieces)


@pytest.mark.asyncio(loop_scope="function")
async def test_the_editor_gets_a_long_selection_back_as_one_edit(standin: StandIn) -> None:
    from lsprotocol import types

    from tests.test_lsp_hardening import offered, press, start

    standin.reply = fix_reply
    paragraphs = [paragraph(n) for n in range(10)]
    text = "\n\n".join(paragraphs) + "\n"
    options = {"options": {"num_ctx": SMALL_CONTEXT}, "lsp": {"prefetch": False}}
    editor = await start(standin.url, options=options)
    try:
        editor.open("file:///long.md", text)
        everything = types.Range(types.Position(0, 0), types.Position(len(paragraphs) * 2, 0))
        await press(editor, await offered(editor, "file:///long.md", everything), "long")
        assert await editor.ended("long") == "applied"
        assert editor.texts["file:///long.md"] == "\n\n".join(map(fixed, paragraphs)) + "\n"
        assert len(editor.edits) == 1 and rewrites([standin]) == 10
    finally:
        await editor.client.shutdown_session()
