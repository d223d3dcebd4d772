"""The models the stand-in has "on disk" and "in memory", and Ollama's listings of them.

A ModelCatalog holds the ModelSpecs (what /api/tags, /api/show and /v1/models list); a
ModelMemory holds the loaded models with their keep-alive clocks and counts the loads. Both
share the StandIn's condition, so every change wakes StandIn.wait_for.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from .formats import FOREVER, rfc3339

DEFAULT_MODEL = "qwen2.5:1.5b"
DEFAULT_KEEP_ALIVE = 300.0  # seconds; Ollama's OLLAMA_KEEP_ALIVE default
DEFAULT_NUM_CTX = 4096
FOREVER_NS = 2**63 - 1  # Go's math.MaxInt64 duration: "expires" about 292 years from now
LOAD_OPTIONS = (
    "num_ctx",
    "num_batch",
    "num_gpu",
    "main_gpu",
    "use_mmap",
    "num_thread",
    "draft_num_predict",
    "shift",
)


@dataclass
class ModelSpec:
    """A model the stand-in has "on disk"."""

    name: str
    family: str = "qwen2"
    parameter_size: str = "1.5B"
    quantization_level: str = "Q4_K_M"
    size: int = 986_000_000  # bytes
    capabilities: tuple[str, ...] = ("completion",)
    context_length: int = 32768
    digest: str = ""  # sha256 hex; derived from the name when empty

    def __post_init__(self) -> None:
        if not self.digest:
            self.digest = hashlib.sha256(self.name.encode()).hexdigest()


@dataclass
class LoadedModel:
    """A model in memory."""

    expires_at: float | None  # time.monotonic() deadline; None = kept forever
    options: dict[str, Any]  # the load-time options it was loaded with
    keep_alive: float = DEFAULT_KEEP_ALIVE  # seconds; FOREVER = never expires
    active: int = 0  # requests using it now; it cannot expire meanwhile


def full_name(name: str) -> str:
    """Ollama's canonical model name: a missing tag means ':latest'."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def deadline(keep_alive: float) -> float | None:
    """The monotonic time a keep-alive ends; None for FOREVER."""
    return None if keep_alive == FOREVER else time.monotonic() + keep_alive


# --- on disk -------------------------------------------------------------------------------


class ModelCatalog:
    """The models on disk, each with the time it was "modified" (pulled)."""

    def __init__(self, cond: threading.Condition) -> None:
        self._cond = cond
        self._models: dict[str, tuple[ModelSpec, int]] = {}  # key -> (spec, modified ns)

    def add(self, spec: ModelSpec, modified_ns: int) -> None:
        spec = replace(spec, name=full_name(spec.name))
        with self._cond:
            self._models[spec.name.lower()] = (spec, modified_ns)
            self._cond.notify_all()

    def remove(self, name: str) -> None:
        with self._cond:
            self._models.pop(full_name(name).lower(), None)
            self._cond.notify_all()

    def find(self, name: str) -> ModelSpec | None:
        """The model a request names (case-insensitive, ':latest' implied)."""
        with self._cond:
            found = self._models.get(full_name(name).lower())
        return found[0] if found else None

    def newest_first(self) -> list[tuple[ModelSpec, int]]:
        with self._cond:
            entries = list(self._models.values())
        return sorted(entries, key=lambda entry: entry[1], reverse=True)

    def tags(self) -> list[dict[str, Any]]:
        return [tag_entry(spec, modified) for spec, modified in self.newest_first()]

    def running(self, loaded: dict[str, LoadedModel]) -> list[dict[str, Any]]:
        """/api/ps rows for a snapshot of memory: the longest-lived first."""
        with self._cond:
            rows = [
                (self._models[name.lower()][0], replace(model))
                for name, model in loaded.items()
                if name.lower() in self._models
            ]
        rows.sort(key=lambda row: FOREVER if row[1].expires_at is None else row[1].expires_at)
        return [ps_entry(spec, model) for spec, model in reversed(rows)]

    def show(self, spec: ModelSpec) -> dict[str, Any]:
        with self._cond:
            modified = self._models[spec.name.lower()][1]
        return show_entry(spec, modified)


# --- in memory -----------------------------------------------------------------------------


class ModelMemory:
    """The loaded models: loads on demand, keep-alive clocks, and the count of loads."""

    def __init__(self, cond: threading.Condition) -> None:
        self._cond = cond
        self._load_lock = threading.Lock()
        self._loaded: dict[str, LoadedModel] = {}
        self.load_count = 0

    def live(self) -> dict[str, LoadedModel]:
        """The models in memory by name, expired ones dropped (the dict itself: mutable)."""
        with self._cond:
            now = time.monotonic()
            for name, model in list(self._loaded.items()):
                if model.active == 0 and model.expires_at is not None and model.expires_at <= now:
                    del self._loaded[name]
            return self._loaded

    def acquire(
        self,
        name: str,
        load_options: dict[str, Any],
        keep_alive: float | None,
        load: Callable[[], None],
    ) -> None:
        """Use a model, calling `load` first unless it is in memory with the same load-time
        options. `keep_alive` None leaves the model's setting alone."""
        if self.use_warm(name, load_options, keep_alive):
            return
        with self._load_lock:
            if self.use_warm(name, load_options, keep_alive):
                return
            load()  # may raise: a client hanging up here aborts the load
            keep = DEFAULT_KEEP_ALIVE if keep_alive is None else keep_alive
            model = LoadedModel(None, dict(load_options), keep)
            with self._cond:
                self._loaded[name] = model
                self.load_count += 1
                self._use(model, None)

    def use_warm(self, name: str, load_options: dict[str, Any], keep_alive: float | None) -> bool:
        """Use a model only if it is in memory with these load-time options (then True)."""
        with self._cond:
            model = self.live().get(name)
            if model is None or model.options != load_options:
                return False
            self._use(model, keep_alive)
            return True

    def _use(self, model: LoadedModel, keep_alive: float | None) -> None:
        if keep_alive is not None:
            model.keep_alive = keep_alive
        model.active += 1
        model.expires_at = deadline(model.keep_alive)
        self._cond.notify_all()

    def release(self, name: str) -> None:
        """A request is over: the keep-alive clock starts (or the model unloads)."""
        with self._cond:
            model = self._loaded.get(name)
            if model is None:
                return
            model.active = max(0, model.active - 1)
            if model.active == 0 and model.keep_alive == 0:
                del self._loaded[name]
            elif model.active == 0:
                model.expires_at = deadline(model.keep_alive)
            self._cond.notify_all()

    def unload(self, name: str | None = None) -> None:
        """Drop one model from memory now, or all of them when name is None."""
        with self._cond:
            if name is None:
                self._loaded.clear()
            else:
                self._loaded.pop(name, None)
            self._cond.notify_all()


# --- listings ------------------------------------------------------------------------------

TEMPLATE = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
)
STOPS = ("<|im_start|>", "<|im_end|>")


def _details(spec: ModelSpec) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": spec.family,
        "families": [spec.family],
        "parameter_size": spec.parameter_size,
        "quantization_level": spec.quantization_level,
    }


def tag_entry(spec: ModelSpec, modified_ns: int) -> dict[str, Any]:
    """One model of /api/tags."""
    return {
        "name": spec.name,
        "model": spec.name,
        "modified_at": rfc3339(modified_ns),
        "size": spec.size,
        "digest": spec.digest,
        "details": _details(spec),
    }


def ps_entry(spec: ModelSpec, model: LoadedModel) -> dict[str, Any]:
    """One model of /api/ps."""
    now_ns = time.time_ns()
    if model.expires_at is None:
        expires_ns = now_ns + FOREVER_NS
    else:
        expires_ns = now_ns + int((model.expires_at - time.monotonic()) * 1e9)
    return {
        "name": spec.name,
        "model": spec.name,
        "size": spec.size,
        "digest": spec.digest,
        "details": _details(spec),
        "expires_at": rfc3339(expires_ns),
        "size_vram": spec.size,
        "context_length": model.options.get("num_ctx", DEFAULT_NUM_CTX),
    }


def _parameter_count(parameter_size: str) -> int:
    match = re.fullmatch(r"([\d.]+)\s*([KMBT]?)", parameter_size.strip().upper())
    if not match:
        return 0
    scale = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}[match[2]]
    return int(float(match[1]) * scale)


def show_entry(spec: ModelSpec, modified_ns: int) -> dict[str, Any]:
    """The body of /api/show."""
    parameters = "\n".join(f'{"stop":<30} "{stop}"' for stop in STOPS)
    modelfile = (
        '# Modelfile generated by "ollama show"\n'
        "# To build a new Modelfile based on this, replace FROM with:\n"
        f"# FROM {spec.name}\n\n"
        f"FROM ~/.ollama/models/blobs/sha256-{spec.digest}\n"
        f'TEMPLATE """{TEMPLATE}"""\n' + "".join(f"PARAMETER stop {stop}\n" for stop in STOPS)
    )
    return {
        "modelfile": modelfile,
        "parameters": parameters,
        "template": TEMPLATE,
        "details": _details(spec),
        "model_info": {
            "general.architecture": spec.family,
            "general.parameter_count": _parameter_count(spec.parameter_size),
            "general.quantization_version": 2,
            f"{spec.family}.context_length": spec.context_length,
        },
        "capabilities": list(spec.capabilities),
        "modified_at": rfc3339(modified_ns),
    }


def pull_progress(spec: ModelSpec) -> Iterator[dict[str, Any]]:
    """Per-layer progress lines; `completed` is absent while it is 0 (Go's omitempty)."""
    layer_sizes = [max(1, spec.size - 12_945), 1_482, 11_343]
    for index, size in enumerate(layer_sizes):
        digest = "sha256:" + hashlib.sha256(f"{spec.digest}:{index}".encode()).hexdigest()
        status = f"pulling {digest[7:19]}"
        yield {"status": status, "digest": digest, "total": size}
        yield {"status": status, "digest": digest, "total": size, "completed": size // 2}
        yield {"status": status, "digest": digest, "total": size, "completed": size}
