"""Fast runtimes for the bundled all-MiniLM-L6-v2: OpenVINO (the default) and ONNX Runtime.

Same weights as `SentenceTransformerEmbedder`, run by a leaner engine. On first use the model
folder is exported once to ONNX with torch (offline, from the local folder) and cached under
`cache_dir`, keyed by the weights' size and modification time; later processes read the
cached file and never import torch or transformers, which also makes `techkb ask` start faster.
Text is tokenized with the model's own `tokenizer.json` (the `tokenizers` package that
transformers uses underneath), truncated to the model's `max_seq_length`, mean-pooled and
L2-normalised exactly as the sentence-transformers pipeline of this model does.

The vectors match torch's: fp32 runtimes agree to float rounding; OpenVINO on a CPU with
bfloat16 support (AVX512-BF16/AMX) computes in bfloat16 unless `precision="f32"` and its vectors
still agree to a cosine of at least 0.9999 with torch's on the demo corpus. Both backends
therefore keep the torch embedder's `name`, and a store built with either is searched with the
other without re-ingesting (see docs/DEPLOY.md, "Embedders").
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.embed import SentenceTransformerEmbedder, bundled_model_path
from assistant.errors import ConfigError

logger = logging.getLogger(__name__)

DIM = 384
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_EXPORT_FORMAT = "1"  # bump when the exported graph changes


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/techkb`, else `~/.cache/techkb`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "techkb"


def _fingerprint(model_path: Path) -> str:
    """Identifies the weights (file names, sizes and times) and the export format."""
    digest = hashlib.sha256(f"{_EXPORT_FORMAT}|{model_path.resolve()}".encode())
    for path in sorted(model_path.glob("*")):
        if path.is_file() and path.suffix in {".json", ".safetensors", ".bin", ".txt"}:
            st = path.stat()
            digest.update(f"|{path.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _check_pooling(model_path: Path) -> None:
    """Only mean pooling is reproduced here; other sentence-transformers heads need torch."""
    config = model_path / "1_Pooling" / "config.json"
    if not config.is_file():
        return
    modes = json.loads(config.read_text(encoding="utf-8"))
    on = sorted(k for k, v in modes.items() if k.startswith("pooling_mode") and v is True)
    if on != ["pooling_mode_mean_tokens"]:
        raise ConfigError(
            f"{config}: pooling {on} is not supported by the onnx/openvino backends; "
            "set embedder.backend to sentence-transformers"
        )


def max_seq_length(model_path: Path, default: int = 256) -> int:
    """The model's input limit in word pieces (sentence_bert_config.json)."""
    config = model_path / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
        if isinstance(value, int) and value > 0:
            return value
    return default


def export_onnx(model_path: Path, dest: Path) -> None:
    """Export the transformer of a sentence-transformers folder to ONNX (needs torch once).

    Args:
        model_path: local model folder (config.json + weights).
        dest: the .onnx file to write; written to a temporary name, then renamed.

    Raises:
        ConfigError: the export failed or its output differs from torch's.
    """
    import torch
    from transformers import AutoModel

    logger.info("exporting %s to ONNX (once; cached at %s)", model_path, dest)
    model = AutoModel.from_pretrained(str(model_path)).eval()

    class _Encoder(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    ids = torch.tensor([[101, 7592, 2088, 102, 0], [101, 2047, 2088, 2003, 102]])
    mask = (ids != 0).long()
    types = torch.zeros_like(ids)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.{os.getpid()}.tmp")
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
    try:
        with torch.no_grad():
            expected = _Encoder(model)(ids, mask, types).numpy()
            torch.onnx.export(
                _Encoder(model),
                (ids, mask, types),
                str(tmp),
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        import onnxruntime

        session = onnxruntime.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
        feeds["token_type_ids"] = types.numpy()
        got = session.run(None, feeds)[0]
        if not np.allclose(got, expected, atol=1e-3):
            raise ConfigError(f"{model_path}: the ONNX export does not reproduce torch's output")
        os.replace(tmp, dest)
    except ConfigError:
        raise
    except Exception as e:  # torch.onnx raises many unrelated exception types
        raise ConfigError(f"{model_path}: cannot export to ONNX: {e}") from e
    finally:
        tmp.unlink(missing_ok=True)


def cached_onnx(model_path: Path, cache_dir: Path) -> Path:
    """The ONNX file of `model_path` in `cache_dir`, exported on first use (process-safe)."""
    from filelock import FileLock

    folder = cache_dir / f"{model_path.name}-{_fingerprint(model_path)}"
    onnx_file = folder / "model.onnx"
    if onnx_file.is_file():
        return onnx_file
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"embedder cache {cache_dir}: cannot create it: {e}") from e
    with FileLock(str(folder / "export.lock")):
        if not onnx_file.is_file():
            export_onnx(model_path, onnx_file)
    return onnx_file


class _RuntimeEmbedder:
    """Shared part: tokenize, batch by length, run the engine, mean-pool, normalise."""

    multilingual = False
    backend = ""

    def __init__(
        self,
        model_path: Path | None = None,
        batch_size: int = 32,
        threads: int = 0,
        cache_dir: Path | None = None,
    ) -> None:
        self.model_path = model_path or bundled_model_path()
        self.batch_size = max(1, batch_size)
        self.threads = threads
        self.cache_dir = cache_dir or default_cache_dir()
        # Same weights, same vectors: the store sees the torch embedder's name (module doc).
        self.name = SentenceTransformerEmbedder(self.model_path).name
        self._tokenizer: Any = None
        self._counter: Any = None
        self._engine: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None

    # -- tokenizer ---------------------------------------------------------------------------
    def _load_tokenizer(self, truncate: bool) -> Any:
        from tokenizers import Tokenizer

        path = self.model_path / "tokenizer.json"
        if not path.is_file():
            raise ConfigError(f"{path}: missing; the {self.backend} backend needs tokenizer.json")
        tok = Tokenizer.from_file(str(path))
        tok.no_padding()
        if truncate:
            tok.enable_truncation(max_length=max_seq_length(self.model_path))
        else:
            tok.no_truncation()
        return tok

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer, truncating to its input limit."""
        if self._tokenizer is None:
            self._tokenizer = self._load_tokenizer(truncate=True)
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        """Word pieces the model reads for `text`, special tokens included (not truncated)."""
        if self._counter is None:
            self._counter = self._load_tokenizer(truncate=False)
        return len(self._counter.encode(text, add_special_tokens=True).ids)

    # -- engine ------------------------------------------------------------------------------
    def _engine_for(self, onnx_file: Path) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        """A function from the model's inputs to its last hidden state."""
        raise NotImplementedError

    def load(self) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        """Export (first time only) and load the model; returns the inference function."""
        if self._engine is None:
            _check_pooling(self.model_path)
            onnx_file = cached_onnx(self.model_path, self.cache_dir)
            logger.info("loading %s embedder from %s", self.backend, onnx_file)
            self._engine = self._engine_for(onnx_file)
        return self._engine

    def _batches(self, texts: list[str]) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """Batches of similar length (less padding), with the rows they fill."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            encoded = self.tokenizer.encode_batch([texts[i] for i in rows])
            width = max(len(e.ids) for e in encoded)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, e in enumerate(encoded):
                ids[r, : len(e.ids)] = e.ids
                mask[r, : len(e.ids)] = 1
            yield rows, {"input_ids": ids, "attention_mask": mask, "token_type_ids": ids * 0}

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        engine = self.load()
        items = list(texts)
        out: np.ndarray | None = None
        for rows, feeds in self._batches(items):
            hidden = np.asarray(engine(feeds), dtype=np.float32)
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            if out is None:
                out = np.zeros((len(items), pooled.shape[1]), dtype=np.float32)
            out[rows] = pooled
        assert out is not None
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.maximum(norms, 1e-12, out=norms)
        return np.ascontiguousarray(out / norms, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def _import_openvino() -> Any:
    # `import openvino` reports usage to Google Analytics through `openvino_telemetry` unless
    # the user opted out; techkb never phones home, so that module is made unimportable and
    # openvino falls back to its own no-op stub.
    if "openvino" not in sys.modules:
        sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    try:
        import openvino
    except ImportError as e:
        raise ConfigError("the openvino embedder backend needs: pip install openvino") from e
    return openvino


class OpenVINOEmbedder(_RuntimeEmbedder):
    """all-MiniLM-L6-v2 on OpenVINO's CPU plugin (bfloat16 where the CPU has it).

    Args:
        model_path: sentence-transformers folder; None uses the bundled all-MiniLM-L6-v2.
        batch_size: texts per inference call.
        threads: inference threads; 0 lets OpenVINO use every core.
        cache_dir: where the ONNX export and OpenVINO's compiled-model cache are kept.
        precision: "auto" (bfloat16 on CPUs that support it, else fp32) or "f32".
    """

    backend = "openvino"

    def __init__(
        self,
        model_path: Path | None = None,
        batch_size: int = 32,
        threads: int = 0,
        cache_dir: Path | None = None,
        precision: str = "auto",
    ) -> None:
        super().__init__(model_path, batch_size, threads, cache_dir)
        if precision not in ("auto", "f32"):
            raise ConfigError(f"embedder.precision {precision!r}: expected auto or f32")
        self.precision = precision

    def _engine_for(self, onnx_file: Path) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        ov = _import_openvino()
        core = ov.Core()
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if self.threads:
            config["INFERENCE_NUM_THREADS"] = self.threads
        if self.precision == "f32":
            config["INFERENCE_PRECISION_HINT"] = "f32"
        try:
            core.set_property({"CACHE_DIR": str(onnx_file.parent / "openvino-cache")})
            compiled = core.compile_model(str(onnx_file), "CPU", config)
        except Exception as e:  # openvino raises RuntimeError subclasses from C++
            raise ConfigError(f"{onnx_file}: OpenVINO cannot load it: {e}") from e
        output = compiled.output(0)
        # An infer request runs one inference at a time: each thread (web requests, the
        # retriever's concurrent branches) gets its own.
        local = threading.local()

        def infer(feeds: dict[str, np.ndarray]) -> np.ndarray:
            request = getattr(local, "request", None)
            if request is None:
                request = local.request = compiled.create_infer_request()
            return np.array(request.infer(feeds)[output])

        return infer


class OnnxRuntimeEmbedder(_RuntimeEmbedder):
    """all-MiniLM-L6-v2 on ONNX Runtime's CPU provider (fp32: torch's vectors to rounding)."""

    backend = "onnxruntime"

    def _engine_for(self, onnx_file: Path) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
        try:
            import onnxruntime
        except ImportError as e:
            raise ConfigError("the onnxruntime backend needs: pip install onnxruntime") from e
        options = onnxruntime.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        session = onnxruntime.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        return lambda feeds: np.asarray(session.run(None, feeds)[0])
