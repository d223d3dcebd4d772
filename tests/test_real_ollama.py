"""Against a real Ollama server: run only where OLLAMA_HOST reaches one, skipped elsewhere.

The project's stand-in marks every answer with a header no real server sends; a host that
sends it is not a real Ollama, and these tests are skipped rather than faked.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request

import pytest

from tests.conftest import _command
from tests.standin import STAND_IN_HEADER

REAL_HOST = os.environ.get("OLLAMA_HOST", "")  # read before the autouse fixture clears it
SLOPPY = "their going too the store tomorow, dont wait for me\n"


def _real_ollama_url() -> str | None:
    if not REAL_HOST:
        return None
    from rewrite.hosts import parse_host

    url = parse_host(REAL_HOST).url
    try:
        with urllib.request.urlopen(url + "/api/version", timeout=2) as answer:
            json.load(answer)
            if answer.headers.get(STAND_IN_HEADER):
                return None
    except (OSError, ValueError):
        return None
    return url


REAL_URL = _real_ollama_url()
pytestmark = [
    pytest.mark.real_ollama,
    pytest.mark.skipif(REAL_URL is None, reason="OLLAMA_HOST does not reach a real Ollama server"),
]


def test_fix_with_a_real_model() -> None:
    assert REAL_URL is not None
    done = subprocess.run(
        [*_command(), "fix", "--json", "--no-cache"],
        input=SLOPPY.encode(),
        capture_output=True,
        env={**os.environ, "OLLAMA_HOST": REAL_URL},
        timeout=300,
    )
    if done.returncode == 4:
        pytest.skip("the default model is not pulled on that server")
    assert done.returncode == 0, done.stderr.decode()
    result = json.loads(done.stdout)
    text = result["text"]
    assert text.endswith("\n") and text != SLOPPY  # an echo cannot pass
    assert "store" in text.lower() and "their going" not in text.lower()
    timings = result["timings"]
    assert timings["total_ms"] > 0 and timings["output_tokens"] > 0 and timings["prompt_tokens"] > 0
