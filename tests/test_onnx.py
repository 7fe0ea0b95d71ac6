"""The ONNX runtimes against torch on the real model: same vectors (fp32), close ones (int8),
Matryoshka truncation, and verbatim answers from an index built and searched with int8."""

import json

import numpy as np
import pytest

from corpus.chunk import chunks, sentences
from corpus.load import load
from index import fetch as fetch_mod
from index import model as model_mod
from index import onnx as onnx_mod
from index import store
from index.build import build, chunk_input
from index.manifest import StoreError
from service.core import Answerer
from service.settings import Settings
from tests.conftest import SEED

pytestmark = pytest.mark.slow

DATA = SEED.parents[2] / "eval" / "data"  # the PIAF and service-public corpora shipped with the repository
QUESTIONS = [
    json.loads(line)["question"]
    for line in (SEED.parents[2] / "eval" / "sets" / "seed.jsonl").read_text(encoding="utf-8").splitlines()[:24]
]


@pytest.fixture(scope="module")
def model_path() -> str:
    settings = Settings()
    return fetch_mod.resolve(settings.model, settings.model_cache)


@pytest.fixture(scope="module")
def passages() -> tuple[list[str], list[str]]:
    """The seed article's chunks, as the index embeds them."""
    article = load([SEED])[0]
    texts = [chunk_input(article, c) for c in chunks(article, sentences(article), 600, 1)]
    return texts, [article.title] * len(texts)


@pytest.fixture(scope="module")
def torch_vectors(model_path, passages):
    encoder = model_mod.load_encoder(model_path, "torch")
    return encoder.encode_queries(QUESTIONS), encoder.encode_documents(*passages)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_onnx_fp32_gives_torch_vectors(model_path, passages, torch_vectors):
    encoder = model_mod.load_encoder(model_path, "onnx")
    assert encoder.runtime.startswith("onnxruntime-") and encoder.runtime.endswith("-fp32-alone-spm")
    queries, documents = encoder.encode_queries(QUESTIONS), encoder.encode_documents(*passages)
    assert _cosines(queries, torch_vectors[0]).min() >= 0.999
    assert _cosines(documents, torch_vectors[1]).min() >= 0.99
    stamp = json.loads((onnx_mod.export_dir(model_path) / onnx_mod.STAMP).read_text())
    assert stamp["fp32"]["probe_min_cosine_to_torch"] >= 0.999


def test_onnx_int8_is_close_to_torch_but_not_the_same_runtime(model_path, passages, torch_vectors):
    encoder = model_mod.load_encoder(model_path, "onnx-int8")
    assert encoder.runtime.endswith("-int8emb-alone-spm")
    queries, documents = encoder.encode_queries(QUESTIONS), encoder.encode_documents(*passages)
    for got, want in ((queries, torch_vectors[0]), (documents, torch_vectors[1])):
        cosines = _cosines(got, want)
        assert cosines.min() >= 0.8 and np.median(cosines) >= 0.9
        assert cosines.max() < 0.9999  # quantised: close, not equal, hence its own runtime in the manifest


def test_matryoshka_dims_truncate_and_renormalise_like_torch(model_path, passages):
    onnx_256 = model_mod.load_encoder(model_path, "onnx", dims=256).encode_documents(*passages)
    torch_256 = model_mod.load_encoder(model_path, "torch", dims=256).encode_documents(*passages)
    assert onnx_256.shape == (len(passages[0]), 256)
    assert np.allclose(np.linalg.norm(onnx_256, axis=1), 1, atol=1e-5)
    assert _cosines(onnx_256, torch_256).min() >= 0.99


def test_int8_index_answers_verbatim_and_refuses_torch_queries(model_path, tmp_path):
    settings = Settings(runtime="onnx-int8", index_dir=tmp_path / "index")
    encoder = settings.load_encoder()
    index = build(load([SEED]), encoder, settings.index_config())
    store.save(index, settings.index_dir)
    assert index.manifest.model.runtime == encoder.runtime
    result = Answerer(index, encoder, settings.answer_config()).warm_up().answer("Quel nerf innerve le mollet ?")
    assert result.answered and "nerf tibial" in result.answer.text
    citation = result.answer.citation
    assert index.articles[citation.doc_id].text[citation.start : citation.end] == result.answer.text
    with pytest.raises(StoreError, match="runtime"):
        store.load(settings.index_dir, Settings(runtime="torch").index_config())
    torch_runtime = model_mod.load_encoder(model_path, "torch").runtime
    with pytest.raises(StoreError, match="runtime: index built with"):
        store.load(settings.index_dir, settings.index_config(), runtime=torch_runtime)


@pytest.mark.parametrize("runtime", ["onnx-int8", "onnx"])
def test_a_text_gets_the_same_vector_alone_and_in_any_batch(model_path, passages, runtime):
    """Dynamic int8 scales activations per run: batched, a text's vector depended on its neighbours."""
    texts, titles = passages[0][:6], passages[1][:6]
    assert len(texts) == 6
    mixed = [texts[5], "Non.", texts[0] * 3, texts[4], "Le mollet ? 🦵 L’œdème…", texts[2]]
    encoder = model_mod.load_encoder(model_path, runtime)
    together = encoder.encode_documents(texts, titles)
    in_mixed = encoder.encode_documents(mixed, titles[:6])
    for row, text in enumerate(texts):
        alone = encoder.encode_documents([text], [titles[row]])[0]
        assert np.array_equal(alone, together[row])
    for position, row in ((0, 5), (3, 4), (5, 2)):
        assert np.array_equal(in_mixed[position], together[row])
    one_thread = model_mod.load_encoder(model_path, runtime, threads=1).encode_documents(texts, titles)
    assert np.array_equal(one_thread, together)
    queries = encoder.encode_queries(QUESTIONS[:6])
    assert np.array_equal(encoder.encode_queries([QUESTIONS[3]])[0], queries[3])


def test_full_and_incremental_builds_write_byte_identical_vectors(model_path, tmp_path):
    settings = Settings(runtime="onnx-int8")
    encoder, config = settings.load_encoder(), settings.index_config()
    articles = load([SEED, SEED.parents[2] / "tests" / "fixtures" / "bulk.jsonl"])
    store.save(build(articles, encoder, config), tmp_path / "full")
    store.save(build(articles[:1], encoder, config), tmp_path / "first")
    cache = store.reusable_vectors(tmp_path / "first", encoder.name, encoder.runtime, encoder.dims)
    incremental = build(articles, encoder, config, cache=cache)
    assert incremental.manifest.build.reused > 0 and incremental.manifest.build.embedded > 0
    store.save(incremental, tmp_path / "incremental")
    for name in ("sentences.faiss", "chunks.faiss", "pairs.npy"):
        assert (tmp_path / "full" / name).read_bytes() == (tmp_path / "incremental" / name).read_bytes(), name


def _corpus_texts() -> list[str]:
    """Every article (whole, and line by line) and question of the seed, PIAF and service-public sets, as
    the encoder sees them (with the document prefix), and the hard cases: ’ vs ', œ, emoji, NBSP, tabs,
    CRLF, runs of spaces, and texts past MAX_TOKENS."""
    texts = [SEED.read_text(encoding="utf-8")]
    for path in sorted(DATA.glob("*/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            for value in json.loads(line).values():
                if isinstance(value, str) and len(value) > 3:
                    texts += [f"title: none | text: {value}", *(p for p in value.split("\n") if p.strip())]
    hard = ["L’œil d'Œdipe 😀🫀", "a\u00a0b\u202fc", "tab\there\r\nCRLF", "  deux  espaces  ", "é" * 5000]
    return texts + hard + ["mot " * 3000]


def test_the_sentencepiece_tokenizer_gives_tokenizer_json_ids(model_path):
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(f"{model_path}/tokenizer.json")
    reference.enable_truncation(onnx_mod.MAX_TOKENS)
    pieces = onnx_mod.Pieces(model_path)
    texts = _corpus_texts()
    assert len(texts) > 50_000
    differing = [t[:60] for t in texts if pieces.ids(t) != reference.encode(t).ids]
    assert not differing, differing[:5]
    assert len(pieces.ids("mot " * 3000)) == onnx_mod.MAX_TOKENS
    # the one difference, on purpose: a control token written in a text stays text
    assert reference.encode("<eos>").ids == [2, 1, 1] and pieces.ids("<eos>")[1:-1] != [1]


@pytest.fixture(scope="module")
def torch_tokens(model_path, passages):
    """Torch's question and sentence token vectors: the reference for the ONNX runtimes'."""
    encoder = model_mod.load_encoder(model_path, "torch")
    article = load([SEED])[0]
    units = sentences(article)[:12]
    texts = [article.text[s.start : s.end] for s in units]
    inputs = [f"{s.section}\n{t}" if s.section != article.title else t for s, t in zip(units, texts)]
    keep = [len(t) for t in texts]
    titles = [article.title] * len(inputs)
    return (
        [encoder.encode_query_tokens(q) for q in QUESTIONS[:6]],
        encoder.encode_document_tokens(inputs, titles, keep),
        (inputs, titles, keep),
    )


@pytest.mark.parametrize(
    "runtime, median, drift", [("torch", 0.9999, 1e-4), ("onnx", 0.999, 2e-3), ("onnx-int8", 0.9, 0.08)]
)
def test_token_vectors_come_with_the_text_vector_from_one_call(model_path, torch_tokens, runtime, median, drift):
    """Every runtime gives the same vector as without tokens, and one unit vector per piece of the
    question or sentence (never the prompt, title, section or special tokens), close to torch's: int8
    moves a few tokens far (a near-empty state rounded), so what is bounded is the median token and the
    MaxSim of every question with every sentence, the number reading uses."""
    encoder = model_mod.load_encoder(model_path, runtime)
    queries, (torch_vectors, torch_states), (inputs, titles, keep) = torch_tokens
    asked = []
    for question, (_, reference) in zip(QUESTIONS[:6], queries):
        vector, states = encoder.encode_query_tokens(question)
        assert np.allclose(vector, encoder.encode_queries([question])[0], atol=1e-5)
        assert states.shape == reference.shape and np.allclose(np.linalg.norm(states, axis=1), 1, atol=1e-4)
        asked.append(states)
    vectors, states = encoder.encode_document_tokens(inputs, titles, keep)
    assert np.allclose(vectors, encoder.encode_documents(inputs, titles), atol=1e-5)
    assert [len(s) for s in states] == [len(s) for s in torch_states]
    pairs = list(zip(asked + states, [r for _, r in queries] + torch_states))
    assert np.median(np.concatenate([_cosines(a, b) for a, b in pairs])) >= median

    def maxsims(questions: list[np.ndarray], sentences: list[np.ndarray]) -> np.ndarray:
        return np.array([[(q @ s.T).max(axis=1).mean() for s in sentences] for q in questions])

    assert np.abs(maxsims(asked, states) - maxsims([r for _, r in queries], torch_states)).max() <= drift
