"""EmbeddingGemma through ONNX Runtime: our own export, cached next to the model, checked against torch.

Why: the torch forward pass on one question is most of an answer's cost; ONNX Runtime runs the same
graph faster, and its dynamic int8 quantisation (VNNI on this CPU) faster still. We export with
``torch.onnx`` (no optimum, no ``sentence-transformers[onnx]``, whose pins conflict with ours): the
transformer, mean pooling, the two Dense layers and the L2 normalisation become one graph from
``input_ids``/``attention_mask`` to the sentence embedding, with a second output: every token's state
through the same Dense layers (the token vectors reading uses, ``index.tokens``). int8 is
``quantize_dynamic`` of that file: the matrix products *and* the token-embedding table (a Gather of
262k × 768 weights, 805 MB in fp32, which a MatMul-only quantisation left as it was): a serving process
holds 0.67 GB instead of 1.25 GB.

The export lives in ``<model folder>-onnx/`` (outside git) with ``export.json``: the recipe version,
the source model's hashes, the library versions, each file's SHA-256, and the cosine of the exported
vectors to torch's on fixed probe texts. A file whose stamp does not match what this code would
produce (other model, recipe or versions) or whose hash changed is regenerated; an export whose
vectors drift from torch (fp32 cosine < 0.999) is refused. The query path imports neither torch nor
sentence-transformers (only ``onnxruntime`` and ``sentencepiece``), but torch, onnx and onnxscript must be
installed: ``library_versions()`` reads their versions at every start to check the export stamp.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from index.encoder import ModelError, ModelInfo, sha256_file, unit_rows
from index.fetch import SLIM, model_hashes

log = logging.getLogger(__name__)

EMBEDDING = "alone"  # each text run alone (batch of one): recorded in the runtime string, so older indexes are rebuilt
TOKENIZER = "spm"  # Gemma's SentencePiece model (see Pieces); also in the runtime string
# Bump a precision's recipe when its export or quantisation changes: its cached files are then regenerated.
# fp32 2 / int8 3: a second output, every token's vector through the Dense layers (late interaction).
RECIPES = {"fp32": 2, "int8": 3}  # int8 2: the token-embedding table quantised too
PRECISIONS = {"onnx": "fp32", "onnx-int8": "int8"}
# The precision as the runtime string names it: vectors of another quantisation are another runtime, so an
# index built with the MatMul-only int8 (``int8``) is rebuilt rather than searched with these queries.
LABELS = {"fp32": "fp32", "int8": "int8emb"}
QUANTISED_OPS = ["MatMul", "Gather"]
FILES = {"fp32": ["model.onnx", "model.onnx.data"], "int8": ["model-int8.onnx"]}
STAMP = "export.json"
MIN_COSINE = {"fp32": 0.999, "int8": 0.80}
MAX_TOKENS = 2048
PROBES = [
    "task: search result | query: Quel nerf innerve le mollet ?",
    "task: search result | query: Pourquoi mon mollet se contracte-t-il la nuit ?",
    "title: Contractions du mollet | text: Le nerf S1, au niveau du sacrum, devient le nerf tibial de la jambe.",
    "title: none | text: L’été, « déjà » : 42,5 % des œuvres… d’après M. Dupont.",
]


def _kept(folder: Path) -> list[str]:
    return [precision for precision, names in FILES.items() if all((folder / name).is_file() for name in names)]


def keep_only(model_path: Path, precision: str) -> list[Path]:
    """Remove the export files of the other precisions (their stamp entries go too): a slim image keeps only
    what its runtime reads. Returns what was removed."""
    folder = export_dir(model_path)
    stamp = read_stamp(folder)
    removed = []
    for other, names in FILES.items():
        if other == precision:
            continue
        stamp.pop(other, None)
        for name in names:
            if (folder / name).exists():
                (folder / name).unlink()
                removed.append(folder / name)
    (folder / STAMP).write_text(json.dumps(stamp, indent=1) + "\n", encoding="utf-8")
    return removed


def export_dir(model_path: Path) -> Path:
    """Where the ONNX files of the model at ``model_path`` are kept (beside it, outside git)."""
    model_path = Path(model_path)
    return model_path.parent / f"{model_path.name}-onnx"


def library_versions() -> dict[str, str]:
    return {name: version(name) for name in ("torch", "onnxscript", "onnx", "onnxruntime")}


def read_stamp(folder: Path) -> dict:
    try:
        return json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def stamp_is_current(stamp: dict, precision: str, source: dict[str, str], folder: Path) -> bool:
    """The stamp describes what this code would produce now, and the files are the ones it hashed."""
    entry = stamp.get(precision) or {}
    if (
        entry.get("recipe") != RECIPES[precision]
        or entry.get("source") != source
        or entry.get("versions") != library_versions()
    ):
        return False
    for name in FILES[precision]:
        path = folder / name
        want = entry.get("files", {}).get(name)
        if not path.is_file() or want is None:
            return False
        stat = path.stat()
        if want["stat"] != [stat.st_size, stat.st_mtime_ns] and sha256_file(path) != want["sha256"]:
            return False
    return True


def ensure_export(model_path: Path, precision: str = "fp32") -> Path:
    """The checked ONNX file of ``model_path`` at ``precision`` (fp32 or int8), made if missing or stale."""
    model_path = Path(model_path)
    folder = export_dir(model_path)
    source = model_hashes(model_path)
    if stamp_is_current(read_stamp(folder), precision, source, folder):
        return folder / FILES[precision][0]
    if (model_path / SLIM).exists():
        raise ModelError(
            f"{model_path} keeps only the ONNX {', '.join(_kept(folder))} export (a slim model folder, as in the "
            f"container image) and has no current {precision} export: use the runtime it was made for"
        )
    if precision == "int8":
        ensure_export(model_path, "fp32")
    log.warning("exporting %s to ONNX (%s); this takes a few minutes once", model_path.name, precision)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".export-") as tmp:
        tmp_path = Path(tmp)
        if precision == "fp32":
            _export_fp32(model_path, tmp_path / "model.onnx")
        else:
            _quantize(folder / "model.onnx", tmp_path / "model-int8.onnx")
        cosine = _probe_cosine(model_path, tmp_path / FILES[precision][0])
        if cosine < MIN_COSINE[precision]:
            raise ModelError(
                f"the ONNX {precision} export of {model_path} gives vectors too far from torch "
                f"(cosine {cosine:.4f} < {MIN_COSINE[precision]}): use SOURCIER_RUNTIME=torch"
            )
        for name in FILES[precision]:
            os.replace(tmp_path / name, folder / name)
    files = {}
    for name in FILES[precision]:
        stat = (folder / name).stat()
        files[name] = {"sha256": sha256_file(folder / name), "stat": [stat.st_size, stat.st_mtime_ns]}
    stamp = read_stamp(folder)
    stamp[precision] = {
        "recipe": RECIPES[precision],
        "source": source,
        "versions": library_versions(),
        "files": files,
        "probe_min_cosine_to_torch": round(cosine, 5),
    }
    (folder / STAMP).write_text(json.dumps(stamp, indent=1) + "\n", encoding="utf-8")
    log.info("ONNX %s export ready in %s (probe cosine to torch %.4f)", precision, folder, cosine)
    return folder / FILES[precision][0]


def _torch_model(model_path: Path):  # noqa: ANN202 - torch types stay out of this module's signatures
    """The sentence-transformers model as one torch module: ids and mask → normalised embedding, and
    every token's state through the same Dense layers (not normalised: ``index.tokens`` cuts, then normalises)."""
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_path), device="cpu")
    modules = list(st)
    pooling, heads = modules[1], modules[2:]
    kinds = [type(m).__name__ for m in heads]  # by name: the classes moved between sentence-transformers versions
    if type(pooling).__name__ != "Pooling" or pooling.pooling_mode != "mean" or not pooling.include_prompt:
        raise ModelError(
            f"{model_path}: the ONNX export supports mean pooling over all tokens only; use SOURCIER_RUNTIME=torch"
        )
    dense = [m for m, kind in zip(heads, kinds) if kind == "Dense"]
    if set(kinds) - {"Dense", "Normalize"}:
        raise ModelError(f"{model_path}: unsupported module after pooling; use SOURCIER_RUNTIME=torch")

    class Embedder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = modules[0].auto_model
            self.dense = torch.nn.ModuleList(dense)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            hidden = self.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            vector = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            tokens = hidden
            for layer in self.dense:
                vector = layer.activation_function(layer.linear(vector))
                tokens = layer.activation_function(layer.linear(tokens))
            return torch.nn.functional.normalize(vector, dim=-1), tokens

    return Embedder().eval()


def _export_fp32(model_path: Path, target: Path) -> None:
    import torch

    embedder = _torch_model(model_path)
    ids, mask = Pieces(model_path).batch(PROBES[:2])
    dynamic = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
    with torch.no_grad():
        torch.onnx.export(
            embedder,
            (torch.from_numpy(ids), torch.from_numpy(mask)),
            str(target),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding", "token_states"],
            dynamic_shapes=dynamic,
            dynamo=True,
            opset_version=18,
            external_data=True,
        )


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, op_types_to_quantize=QUANTISED_OPS)


def _probe_cosine(model_path: Path, onnx_file: Path) -> float:
    """Smallest cosine between torch's and the ONNX file's vectors on the probe texts (padded batch)."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_path), device="cpu")
    reference = st.encode(PROBES, prompt="", normalize_embeddings=True, convert_to_numpy=True)
    session = open_session(onnx_file, threads=0)
    ids, mask = Pieces(model_path).batch(PROBES)  # torch tokenizes with tokenizer.json: both are compared
    got = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    return float((reference * got).sum(axis=1).min())


class Pieces:
    """Gemma's tokenizer from its SentencePiece model, ``tokenizer.model`` (4.7 MB, hash-checked with the
    weights), rather than ``tokenizer.json`` through HF ``tokenizers``: the same token ids (compared on
    every text of the seed, PIAF and service-public corpora, ``tests/test_onnx.py``) for ~50 MB of memory
    instead of ~300 MB, a third of a replica. ``<bos>`` + pieces (cut at ``MAX_TOKENS``) + ``<eos>``, as
    tokenizer.json's post-processor does. Text is only text: a literal ``<eos>`` in an article or a
    question is spelt out, never read as the control token (the one way the two tokenizers differ)."""

    def __init__(self, model_path: Path) -> None:
        from sentencepiece import SentencePieceProcessor

        self.model = SentencePieceProcessor(model_file=str(Path(model_path) / "tokenizer.model"))
        self.bos, self.eos, self.pad = self.model.bos_id(), self.model.eos_id(), self.model.pad_id()

    def ids(self, text: str) -> list[int]:
        return [self.bos, *self.model.encode(text)[: MAX_TOKENS - 2], self.eos]

    def ids_and_ends(self, text: str) -> tuple[list[int], list[int]]:
        """``ids(text)``, and where each piece ends in ``text`` (UTF-8 bytes; ``<bos>``/``<eos>`` have none)."""
        pieces = self.model.encode(text, out_type="proto").pieces[: MAX_TOKENS - 2]
        return [self.bos, *(p.id for p in pieces), self.eos], [p.end for p in pieces]

    def batch(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Right-padded ids and attention mask, for the export's probes."""
        rows = [self.ids(text) for text in texts]
        width = max(len(row) for row in rows)
        ids = np.full((len(rows), width), self.pad, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return ids, mask


def open_session(onnx_file: Path, threads: int):  # noqa: ANN201 - onnxruntime types stay out of signatures
    """An ONNX Runtime session on the CPU with every graph optimisation; ``threads`` 0: one per core."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads  # 0: one per core
    return ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])


class OnnxEncoder:
    """The same encoder contract as SentenceTransformerEncoder, run by ONNX Runtime.

    ``runtime`` is ``onnx`` (fp32) or ``onnx-int8``; int8 vectors differ from fp32 ones (cosine
    ~0.93 on passages), so an index is only searched with queries of the runtime that built it.

    Every text is run alone, never in a padded batch: dynamic int8 quantisation scales the activations
    of the whole batch by one factor, so a batched passage's vector depended on its neighbours
    (cosine down to 0.96 between two builds of the same sentence). Alone, a text always gets the same
    vector, whatever it is embedded with, and a full and an incremental build agree byte for byte.
    The speed comes back from running ``threads`` texts at once on one-thread sessions (measured:
    17.8 passages/s against 14.4 in batches of 16 on this machine's 2 cores); the query session keeps
    all the threads for one question's latency. The vectors do not depend on the thread count.
    """

    def __init__(self, model_path: str, runtime: str = "onnx", dims: int | None = None, threads: int = 0) -> None:
        if runtime not in PRECISIONS:
            raise ValueError(f"unknown ONNX runtime {runtime!r} (use {', '.join(PRECISIONS)})")
        self.path = Path(model_path)
        if not self.path.is_dir():
            raise ModelError(f"the ONNX runtime needs a local model folder, not {model_path!r}")
        precision = PRECISIONS[runtime]
        self.file = ensure_export(self.path, precision)
        self.session = open_session(self.file, threads)
        self.workers = threads or os.cpu_count() or 1
        self._document_session = None  # one-thread session shared by the build's workers, made when first needed
        self.pieces = Pieces(self.path)
        config = json.loads((self.path / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        self.prompts: dict[str, str] = config.get("prompts") or {}
        full = int(self.session.get_outputs()[0].shape[-1])
        self.dims = min(dims, full) if dims else full
        self.name = self.path.name
        self.runtime = f"onnxruntime-{version('onnxruntime')}-{LABELS[precision]}-{EMBEDDING}-{TOKENIZER}"

    def _one(self, session, text: str) -> np.ndarray:  # noqa: ANN001
        ids = np.array([self.pieces.ids(text)], dtype=np.int64)
        mask = np.ones_like(ids)
        vector = session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})[0][0, : self.dims]
        return vector / np.linalg.norm(vector)

    def _one_with_tokens(self, session, text: str, keep: int) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        """The text's vector and the unit token vectors of its last ``keep`` characters, one model call."""
        ids, ends = self.pieces.ids_and_ends(text)
        skip = len(text[: len(text) - keep].encode("utf-8"))
        rows = [i + 1 for i, end in enumerate(ends) if end > skip]  # + 1: past <bos>
        batch = np.array([ids], dtype=np.int64)
        vector, states = session.run(None, {"input_ids": batch, "attention_mask": np.ones_like(batch)})
        vector = vector[0, : self.dims]
        return vector / np.linalg.norm(vector), unit_rows(states[0, rows])

    def _encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Vectors in input order, each text run alone (see the class docstring)."""
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, vector in enumerate(self._alone(self._one, [(text,) for text in texts], progress)):
            out[row] = vector
        return out

    def _alone(self, one: Callable[..., Any], items: list[tuple[Any, ...]], progress: bool) -> Iterator[Any]:
        """``one(session, *item)`` for each item, in order: on the query session for a single text (a
        question keeps every thread), else ``workers`` at once on the shared one-thread session."""
        from tqdm import tqdm

        if len(items) <= 1 or self.workers == 1:
            yield from (one(self.session, *item) for item in items)
            return
        if self._document_session is None:
            self._document_session = open_session(self.file, threads=1)
        session = self._document_session
        with ThreadPoolExecutor(self.workers) as pool:
            results = pool.map(lambda item: one(session, *item), items)
            yield from tqdm(results, total=len(items), desc="embedding", unit="passage", disable=not progress)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.prompts.get("query", "") + text for text in texts])

    def encode_query_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        return self._one_with_tokens(self.session, self.prompts.get("query", "") + text, len(text))

    def encode_document_tokens(
        self, texts: list[str], titles: list[str], keep: list[int], progress: bool = False
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Like ``encode_documents``, each text alone, with its kept token vectors."""
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        tokens: list[np.ndarray] = []
        items = list(zip(self._document_inputs(texts, titles), keep))
        for row, (vector, states) in enumerate(self._alone(self._one_with_tokens, items, progress)):
            out[row] = vector
            tokens.append(states)
        return out, tokens

    def encode_documents(self, texts: list[str], titles: list[str], progress: bool = False) -> np.ndarray:
        return self._encode(self._document_inputs(texts, titles), progress)

    def _document_inputs(self, texts: list[str], titles: list[str]) -> list[str]:
        if "document" in self.prompts:
            return [f"title: {title or 'none'} | text: {text}" for text, title in zip(texts, titles)]
        return list(texts)

    def info(self) -> ModelInfo:
        return ModelInfo(
            name=self.name,
            path=str(self.path.resolve()),
            file_hashes=model_hashes(self.path),
            runtime=self.runtime,
            dims=self.dims,
        )
