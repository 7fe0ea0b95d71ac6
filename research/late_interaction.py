"""Measure a reader idea offline: late interaction over EmbeddingGemma's token states (issue 14).

    python -m research.late_interaction --set seed --set piaf-ci      # ~25 min here, most of it torch

The bi-encoder squeezes a sentence into one vector before it meets the question; late interaction
(ColBERT's MaxSim) keeps one vector per token and lets every question token find its best match in
the sentence, so "quand" can meet a date and "qui" a name. This measures whether EmbeddingGemma's own
token states already carry that, before anything is trained on them: each token's last hidden state
is put through the model's two Dense layers (linear, so their mean is the sentence vector before
normalisation) and normalised; prompt, title, section and special tokens are left out. A sentence is
run as the index embeds it (``index.build.sentence_input``: its section title, then its text), so the
states measured are the ones a build could keep from the call it already makes.

``--served`` measures instead what the service computes (``service.core.answer``): the index's own int8
token vectors and the question's from the service's encoder call, without torch.

Kept in an index, token vectors cost space: each variant of ``VARIANTS`` keeps the first ``dims``
dimensions (renormalised, as for the Matryoshka sentence vectors), optionally rounded to int8 per token,
and is measured on the same candidates.

For every answerable question, the service's own top candidates (``Answerer.candidates``, best
first) are re-scored ``score + alpha × MaxSim(question, sentence)``; hit@1 counts the answer the
service would build from the best one. ``alpha`` is chosen on each set and measured on the others,
so no figure is tuned on the set it reports. The cost side (``--cost``): what a cross-encoder would
pay per question on this CPU — one encoder call on a question + sentence pair against one on the
question alone, with the service's encoder.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from eval.metrics import Span, contains_gold
from eval.run import eval_folder, eval_index
from eval.sets import EvalSet, load_set, piaf_training
from index.build import sentence_input
from index.encoder import TokenEncoder
from index.tokens import quantize, question_vectors
from research import signals
from service.core import Answerer

CANDIDATES = 10  # the service's best candidates re-scored per question
VARIANTS = {"768": (768, False), "256": (256, False), "128": (128, False), "128-int8": (128, True)}
SERVED = "as served"  # the last column: the index's own token vectors and the service's query call (--served)
ALPHAS = [round(0.05 * i, 2) for i in range(21)] + [2.0, 5.0, 100.0]  # 100: MaxSim alone, score breaks ties


@dataclass
class Asked:
    """One question's candidates: the service's score, MaxSim and whether its answer holds the gold span."""

    score: np.ndarray  # (K,)
    maxsim: np.ndarray  # (K, len(VARIANTS))
    hit: np.ndarray  # (K,)
    positions: np.ndarray  # (K,) the candidates' sentence positions in the index


@dataclass
class Gathered:
    """A set's questions with their candidates, and the token states they were scored with (float16),
    which ``eval.token_reader`` trains on."""

    asked: list[Asked]
    questions: list[np.ndarray]  # one (tokens, 768) array per asked question
    sentences: dict[int, np.ndarray]  # sentence position → (tokens, 768)


class TokenStates:
    """EmbeddingGemma's token vectors in its embedding space (torch; each text alone)."""

    def __init__(self, model_path: str) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        self.torch = torch
        self.model = SentenceTransformer(model_path, device="cpu")
        self.tokenizer = self.model.tokenizer
        dense = [m for m in self.model if type(m).__name__ == "Dense"]
        weight = dense[0].linear.weight.T
        for layer in dense[1:]:
            weight = weight @ layer.linear.weight.T
        self.projection = weight.detach()  # (768, 768): the Dense layers, both linear without bias
        self.query_prompt: str = (self.model.prompts or {}).get("query") or ""

    def vectors(self, text: str, skip: int) -> np.ndarray:
        """Normalised vectors of the tokens of ``text`` that start at or after character ``skip``."""
        torch = self.torch
        encoded = self.tokenizer(text, return_offsets_mapping=True, return_tensors="pt")
        offsets = encoded.pop("offset_mapping")[0].tolist()
        with torch.inference_mode():
            hidden = self.model[0].auto_model(**encoded).last_hidden_state[0] @ self.projection
        keep = [i for i, (start, end) in enumerate(offsets) if end > start and end > skip]
        states = torch.nn.functional.normalize(hidden[keep], dim=-1)
        return states.numpy().astype(np.float32)

    def question(self, text: str) -> np.ndarray:
        prompt = self.query_prompt
        return self.vectors(prompt + text, len(prompt))

    def sentence(self, text: str, title: str, body: int) -> np.ndarray:
        """The states of the last ``body`` characters of the document ``text`` (the sentence itself)."""
        full = f"title: {title or 'none'} | text: {text}"
        return self.vectors(full, len(full) - body)


def stored(states: np.ndarray, dims: int, int8: bool) -> np.ndarray:
    """Token vectors as an index would keep them: the first ``dims`` dimensions, renormalised, and
    with ``int8`` rounded to 127 steps of the token's largest component (``index.tokens``, as the service)."""
    if not int8:
        return question_vectors(states, dims)
    codes, scales = quantize(states, dims)
    return codes * scales[:, None]


def maxsim(question: np.ndarray, sentence: np.ndarray) -> np.ndarray:
    """MaxSim of every variant: mean over question tokens of the best cosine with a sentence token."""
    values = []
    for dims, int8 in VARIANTS.values():
        q, s = stored(question, dims, False), stored(sentence, dims, int8)
        values.append(float((q @ s.T).max(axis=1).mean()))
    return np.array(values)


def gather(eval_set: EvalSet, answerer: Answerer, states: TokenStates | None) -> Gathered:
    """The service's best candidates of every answerable question, with MaxSim of each variant from torch's
    token states (sentence states cached; NaN without ``states``) and, last, as the service computes it
    from the index's int8 token vectors and its encoder's query call (NaN for an index without them)."""
    index, encoder = answerer.index, answerer.encoder
    served = index.tokens if isinstance(encoder, TokenEncoder) else None
    cache: dict[int, np.ndarray] = {}
    asked, questions = [], []
    for q in eval_set.questions:
        if not q.answerable or not q.answers:
            continue
        ranked = signals.candidates(answerer, q.question).ranked[:CANDIDATES]
        question = states.question(q.question) if states is not None else np.zeros((0, 768), np.float32)
        as_served = None
        if served is not None and isinstance(encoder, TokenEncoder):
            query_states = encoder.encode_query_tokens(q.question)[1]
            as_served = question_vectors(query_states, served.dims)
            if states is None:  # kept for the trained head (research.token_head): the service's own query states
                question = query_states
        maxsims = []
        for c in ranked:
            row = np.full(len(VARIANTS) + 1, np.nan)
            if states is not None:
                if c.pos not in cache:
                    s = index.sentences[c.pos]
                    article = index.articles[s.doc_id]
                    cache[c.pos] = states.sentence(sentence_input(article, s), article.title, s.end - s.start)
                row[:-1] = maxsim(question, cache[c.pos])
            if served is not None and as_served is not None:
                row[-1] = served.maxsim(as_served, c.pos)
            maxsims.append(row)
        hits = []
        for c in ranked:
            a, b = index.sentences[c.first], index.sentences[c.last]
            hits.append(contains_gold(Span(a.doc_id, a.start, b.end, ""), q))
        positions = np.array([c.pos for c in ranked])
        asked.append(Asked(np.array([c.score for c in ranked]), np.array(maxsims), np.array(hits), positions))
        questions.append(question.astype(np.float16))
    return Gathered(asked, questions, {pos: states.astype(np.float16) for pos, states in cache.items()})


def hit_rate(asked: list[Asked], alpha: float, variant: int = 0) -> float:
    """hit@1 when each question's candidates are ranked by ``score + alpha × MaxSim`` (of a variant)."""
    return float(np.mean([a.hit[int(np.argmax(a.score + alpha * a.maxsim[:, variant]))] for a in asked]))


def pairs_of(answerer: Answerer, eval_set: EvalSet, count: int) -> list[tuple[str, str]]:
    """The first ``count`` answerable questions, each with the sentence of its best candidate."""
    index, pairs = answerer.index, []
    for q in [q for q in eval_set.questions if q.answerable][:count]:
        s = index.sentences[signals.candidates(answerer, q.question).ranked[0].pos]
        pairs.append((q.question, index.articles[s.doc_id].text[s.start : s.end]))
    return pairs


def cost(answerer: Answerer, eval_set: EvalSet, runs: int = 30) -> dict[str, float]:
    """Median seconds of one encoder call on a question alone and on question + candidate sentence."""
    encoder = answerer.encoder
    timings: dict[str, list[float]] = {"question": [], "pair": []}
    for text, sentence in pairs_of(answerer, eval_set, runs):
        for name, value in (("question", text), ("pair", f"{text} [SEP] {sentence}")):
            started = time.perf_counter()
            encoder.encode_queries([value])
            timings[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in timings.items()}


def training_cost(model_path: str, pairs: list[str], batch: int = 8, steps: int = 3) -> float:
    """Median seconds per pair of one training step of the full model (torch, forward and backward) on
    batches of ``batch`` question + sentence pairs: what a cross-encoder's fine-tuning pays per example."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu")
    encoder = model[0].auto_model
    encoder.train()
    seconds = []
    for step in range(steps):
        texts = pairs[step * batch : (step + 1) * batch]
        inputs = model.tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        started = time.perf_counter()
        loss = encoder(**inputs).last_hidden_state[:, 0].pow(2).mean()  # any scalar: the cost is the same
        loss.backward()
        encoder.zero_grad()
        seconds.append((time.perf_counter() - started) / len(texts))
    return statistics.median(seconds)


def report(gathered: dict[str, list[Asked]]) -> list[str]:
    """The table: each set's hit@1 for the service, MaxSim alone, the best alpha on the set itself
    (optimistic) and the alpha chosen on the other sets (the figure that counts)."""
    lines = [
        "| token vectors | set | service | MaxSim alone | best alpha on this set | alpha chosen on the others |",
        "|---|---|---|---|---|---|",
    ]
    for v, variant in enumerate([*VARIANTS, SERVED]):
        if any(a.maxsim.shape[1] <= v or np.isnan(a.maxsim[:, v]).any() for rows in gathered.values() for a in rows):
            continue  # not measured in this run
        for name, asked in gathered.items():
            own = max(ALPHAS, key=lambda alpha: (hit_rate(asked, alpha, v), -alpha))
            others = [a for other, rows in gathered.items() if other != name for a in rows]
            chosen = max(ALPHAS, key=lambda alpha: (hit_rate(others, alpha, v), -alpha)) if others else 0.0
            lines.append(
                f"| {variant} | {name} ({len(asked)}) | {hit_rate(asked, 0.0):.3f} | {hit_rate(asked, 100.0, v):.3f} | "
                f"{own} → {hit_rate(asked, own, v):.3f} | {chosen} → {hit_rate(asked, chosen, v):.3f} |"
            )
    return lines


def load(name: str) -> EvalSet:
    """A set by name; ``piaf-training`` is the 3,054 PIAF questions of the 187 articles outside piaf-ci."""
    return piaf_training()[0] if name == "piaf-training" else load_set(name)


FIELDS = ("score", "maxsim", "hit", "positions")


def save(path: Path, gathered: Gathered) -> None:
    """A set's candidates and token states, so that the table is redrawn (``--reuse``) and the token
    reader trained without the encoder."""
    asked, order = gathered.asked, sorted(gathered.sentences)
    arrays = {f: np.concatenate([getattr(a, f) for a in asked]) for f in FIELDS}
    np.savez(
        path,
        sizes=np.array([len(a.score) for a in asked]),
        question_sizes=np.array([len(q) for q in gathered.questions]),
        question_states=np.concatenate(gathered.questions),
        sentence_positions=np.array(order),
        sentence_sizes=np.array([len(gathered.sentences[pos]) for pos in order]),
        sentence_states=np.concatenate([gathered.sentences[pos] for pos in order])
        if order
        else np.zeros((0, 768), np.float16),
        **arrays,  # type: ignore[arg-type]  # numpy's stub reads **arrays as its allow_pickle flag
    )


def _split(values: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
    return np.split(values, np.cumsum(sizes)[:-1])


def restore(path: Path) -> Gathered:
    data = np.load(path)
    parts = [_split(data[f], data["sizes"]) for f in FIELDS]
    asked = [Asked(*fields) for fields in zip(*parts)]
    questions = _split(data["question_states"], data["question_sizes"])
    states = _split(data["sentence_states"], data["sentence_sizes"])
    return Gathered(asked, questions, dict(zip(data["sentence_positions"].tolist(), states)))


def main(argv: list[str] | None = None) -> int:
    from service.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m research.late_interaction", description=__doc__.split("\n")[0])
    parser.add_argument("--set", action="append", dest="sets", required=True, help="a set name (repeatable)")
    parser.add_argument("--cost", action="store_true", help="also time a question against a question + sentence")
    parser.add_argument("--saved", type=Path, default=Path("artifacts/late_interaction"), help="where sets are kept")
    parser.add_argument("--reuse", action="store_true", help="take a set already kept in --saved as it is")
    parser.add_argument(
        "--served", action="store_true", help="only the service's own reading (index token vectors, no torch)"
    )
    args = parser.parse_args(argv)
    settings = Settings()
    encoder, states = None, None
    gathered: dict[str, Gathered] = {}
    args.saved.mkdir(parents=True, exist_ok=True)
    for name in args.sets:
        kept = args.saved / f"{name}{'-served' if args.served else ''}.npz"
        if args.reuse and kept.exists():
            gathered[name] = restore(kept)
            continue
        if encoder is None:
            from index import fetch

            encoder = settings.load_encoder()
            if not args.served:
                states = TokenStates(str(fetch.resolve(settings.model, settings.model_cache)))
        eval_set = load(name)
        index = eval_index(eval_set, encoder, settings.index_config(), eval_folder(settings, eval_set), progress=True)
        # The bi-encoder's own candidates, in its order: the service's reading is what is measured here.
        answerer = Answerer(index, encoder, replace(settings.answer_config(threshold=0.0), reader_weight=0.0)).warm_up()
        if args.cost:
            timed = cost(answerer, eval_set)
            print(
                f"{name}: encoder call median {timed['question'] * 1000:.1f} ms on the question, "
                f"{timed['pair'] * 1000:.1f} ms on question + sentence (×{timed['pair'] / timed['question']:.2f})"
            )
            from index import fetch

            pairs = [f"{q} [SEP] {s}" for q, s in pairs_of(answerer, eval_set, 24)]
            step = training_cost(str(fetch.resolve(settings.model, settings.model_cache)), pairs)
            print(f"{name}: one training step of the whole model, median {step:.2f} s per question + sentence pair")
        gathered[name] = gather(eval_set, answerer, states)
        save(kept, gathered[name])
    print("\n" + "\n".join(report({name: g.asked for name, g in gathered.items()})))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
