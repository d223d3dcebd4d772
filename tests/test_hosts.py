"""Hosts: which API a URL speaks, host mappings in the config, and secrets that never show."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rewrite.config import load_settings
from rewrite.errors import ConfigError
from rewrite.hosts import Host, expand, masked, parse_host
from tests.conftest import RunCli, _command, write_config


@pytest.mark.parametrize(
    ("value", "api"),
    [
        ("http://127.0.0.1:8080/v1", "openai"),
        ("http://127.0.0.1:8080/v1/", "openai"),
        ("gpu-box:11434/v1", "openai"),
        ("https://proxy.example/team/v1", "openai"),
        ("http://127.0.0.1:11434", "ollama"),
        ("https://gpu-box:8443/ollama", "ollama"),
        ("http://x/v1beta", "ollama"),
    ],
)
def test_a_path_ending_in_v1_means_the_openai_api(value: str, api: str) -> None:
    assert parse_host(value).api == api


def test_user_and_password_become_basic_auth_and_never_show() -> None:
    host = parse_host("http://bob:p%40ss@gpu-box:8080")
    assert host.url == "http://gpu-box:8080"
    assert host.credentials == ("bob", "p@ss")
    sent = host.request_headers()["Authorization"]
    assert base64.b64decode(sent.removeprefix("Basic ")) == b"bob:p@ss"
    assert "p@ss" not in repr(host) and "p@ss" not in str(host.describe())


def test_a_bad_host_with_a_password_does_not_echo_it() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_host("http://bob:hunter2@gpu-box:notaport")
    assert "hunter2" not in str(raised.value)


def test_the_bearer_token_is_read_from_the_named_variable_when_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = Host("http", "x", 1, "/v1", api_key_env="GPU_KEY")
    monkeypatch.delenv("GPU_KEY", raising=False)
    assert "Authorization" not in host.request_headers()
    assert host.missing_variables() == ["GPU_KEY"]
    assert "set GPU_KEY" in host.auth_hint()
    monkeypatch.setenv("GPU_KEY", "sk-123")
    assert host.request_headers()["Authorization"] == "Bearer sk-123"
    assert "check the key in GPU_KEY" in host.auth_hint()


def test_header_templates_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM", "t-9")
    monkeypatch.delenv("UNSET_ONE", raising=False)
    host = Host("http", "x", 1, headers=(("X-Team", "Team ${TEAM}"), ("X-Other", "$UNSET_ONE")))
    assert host.request_headers() == {"X-Team": "Team t-9"}
    assert host.missing_variables() == ["UNSET_ONE"]


@given(st.text(alphabet=st.characters(blacklist_characters="$"), min_size=1))
def test_literal_header_text_is_never_shown(literal: str) -> None:
    assume(literal not in ("Bearer ", "Basic ", "Token ", "Bot "))
    assert masked(f"{literal}${{NAME}}{literal}") == "<hidden>${NAME}<hidden>"
    assert masked("Bearer ${NAME}") == "Bearer ${NAME}"


def test_expand_is_none_when_a_variable_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A", "1")
    monkeypatch.delenv("B", raising=False)
    assert expand("${A}-$A") == "1-1"
    assert expand("${A}${B}") is None


def test_config_hosts_may_be_mappings(isolated_home: Path) -> None:
    write_config(
        isolated_home,
        "hosts:\n"
        "  - http://127.0.0.1:11434\n"
        "  - url: https://gpu:8443/v1\n"
        "    api_key_env: GPU_KEY\n"
        "    headers: {X-Team: 'Bearer ${TEAM}'}\n"
        "  - {url: 'http://proxy:8080/llm', api: openai}\n",
    )
    local, gpu, proxy = load_settings().hosts
    assert (local.api, gpu.api, proxy.api) == ("ollama", "openai", "openai")
    assert gpu.api_key_env == "GPU_KEY"
    assert gpu.headers == (("X-Team", "Bearer ${TEAM}"),)
    assert proxy.url == "http://proxy:8080/llm"


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("{api: openai}", "needs a 'url'"),
        ("{url: 'http://x', api: grpc}", "expected one of ollama, openai"),
        ("{url: 'http://x', api_key_env: 'sk-abc123'}", "NAME of an environment variable"),
        ("{url: 'http://x', token: abc}", "unknown key"),
        ("{url: 'ftp://x'}", "scheme"),
        ("{url: 'http://x', headers: [a]}", "mapping"),
        ("{url: 'http://x', headers: {'X-A: b\\r\\nX-B': c}}", "not a valid HTTP header name"),
    ],
)
def test_bad_host_mappings_are_config_errors(isolated_home: Path, entry: str, says: str) -> None:
    path = write_config(isolated_home, f"model: m\nhosts:\n  - {entry}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert says in message and f"{path}:2" in message
    assert "sk-abc123" not in message or "api_key_env" in message


def test_rewrite_config_shows_variable_names_never_their_values(
    run_cli: RunCli, isolated_home: Path
) -> None:
    write_config(
        isolated_home,
        "hosts:\n"
        "  - url: https://gpu:8443/v1\n"
        "    api_key_env: GPU_KEY\n"
        "    headers: {X-Team: 'Bearer ${TEAM}', X-Literal: written-in-the-file}\n",
    )
    secrets = {"GPU_KEY": "sk-live-123", "TEAM": "team-secret"}
    run = run_cli("config", env={**secrets, "OLLAMA_HOST": "bob:pw9@proxy:1"})
    assert run.code == 0, run.stderr
    assert '"basic_auth_user": "bob"' in run.text  # OLLAMA_HOST wins over the file
    from_file = subprocess.run(
        [*_command(), "config"],
        capture_output=True,
        env={k: v for k, v in {**os.environ, **secrets}.items() if k != "OLLAMA_HOST"},
        check=True,
    ).stdout.decode()
    assert '"api_key_env": "GPU_KEY"' in from_file
    assert "Bearer ${TEAM}" in from_file and "<hidden>" in from_file
    for secret in ("sk-live-123", "team-secret", "written-in-the-file", "pw9"):
        assert secret not in run.text + from_file


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("[::1", "[::1]:11434"),
        ("[::1]x", "[::1]:11434"),
        ("[gpu-box]:8080", "[::1]:11434"),
        ("127.0.0.1 :11434", "spaces and control characters"),
        ("gpu\x1b]52;c;aGk=\x07box", "spaces and control characters"),
        ("gpu-box:²", "not a port number"),
        ("gpu-box:0", "not a port number"),
        ("gpu_box!:1", "not a host name or address"),
    ],
)
def test_malformed_hosts_are_refused_with_the_reason(value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        parse_host(value)


@given(st.text(max_size=40))
def test_any_host_text_parses_to_a_clean_url_or_a_config_error(value: str) -> None:
    try:
        host = parse_host(value)
    except ConfigError as error:
        assert "\n" not in str(error)
        return
    assert not re.search(r"[\s\x00-\x1f\x7f]", host.url)
    assert 0 < host.port < 65536


def test_an_ipv6_host_keeps_its_brackets_wherever_a_port_follows() -> None:
    host = parse_host("[::1]:8080")
    assert (host.url, host.address) == ("http://[::1]:8080", "[::1]:8080")
    assert parse_host("fe80::1").address == "[fe80::1]:11434"


def test_a_malformed_host_on_the_command_line_gives_the_input_back(run_cli: RunCli) -> None:
    run = run_cli("fix", "--host", "[::1", input="their going\n", env={"OLLAMA_HOST": ""})
    assert run.code == 2
    assert run.stdout == b"their going\n"
    assert run.stderr.count("\n") == 1 and "[::1]:11434" in run.stderr
