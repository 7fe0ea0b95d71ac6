"""Measure a reader idea offline: query-side fine-tuning of the question vector (issue 14, first option).

    python -m research.query_adapter                      # the recipes of eval/README.md, ~20 min with its index
    python -m research.query_adapter --hidden 16 --epochs 4 --learning-rate 3e-4

A small residual network on the bi-encoder's question vector (``q + up(gelu(down(q)))``, normalised) is
trained so that the service's own score, computed with that vector, puts the sentence holding the answer
first among the question's candidates: the bi-encoder's top sentences and the sentences of its top chunks
(``Answerer.candidates``, no change to the service), i.e. its own hard negatives. The passages' vectors
stay frozen, so a winning adapter would cost nothing per question and need no re-embedding.

Data: PIAF dev questions split **by article** (``eval.sets.piaf_training``): piaf-ci's articles (and so
whole-PIAF's held-out ones) are never seen; a fixed fifth of the others validates. The residual branch
starts at zero, so epoch 0 is the bi-encoder itself, and the table shows, epoch by epoch, the hit@1 on the
training questions and on the validation articles' questions. Measured (eval/README.md): training hit@1
rises, validation hit@1 falls from the first epoch, for every width and rate tried: the adapter learns the
training articles, not how to read a question. So the service has no such reader; this stays to re-run.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import numpy as np

from eval.metrics import Span, contains_gold
from eval.run import eval_folder, eval_index
from eval.sets import EvalQuestion, piaf_training
from research import signals
from service.core import Answerer

TEMPERATURE = 0.05  # cosine-scale scores: a 0.05 lead is one unit of logit


@dataclass(frozen=True)
class Recipe:
    hidden: int = 256
    epochs: int = 6
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    batch: int = 32
    seed: int = 0


RECIPES = [Recipe(), Recipe(hidden=16, epochs=4, learning_rate=3e-4, weight_decay=0.0)]


@dataclass
class Asked:
    """One question's candidates as the training sees them (positions into the index's arrays)."""

    query: np.ndarray  # the bi-encoder's question vector
    sentences: np.ndarray  # (K,) sentence positions
    chunks: np.ndarray  # (K, M) chunk positions of each candidate, -1 padded
    extra: np.ndarray  # (K,) lexical term minus number penalty: the score's part the reader leaves alone
    target: np.ndarray  # (K,) candidate holds a gold answer (alone or with a neighbour)
    answer_hit: np.ndarray  # (K,) the answer the service would build from it holds the gold answer


def gather(questions: list[EvalQuestion], answerer: Answerer) -> list[Asked]:
    """Every answerable question's candidates, signals and targets (``Answerer.candidates``)."""
    index, config = answerer.index, answerer.config
    asked = []
    for q in questions:
        if not q.answerable or not q.answers:
            continue
        found = signals.candidates(answerer, q.question)
        part = signals.parts(answerer, q.question, found)

        def holds(first: int, last: int, q: EvalQuestion = q) -> bool:
            a, b = index.sentences[first], index.sentences[last]
            return contains_gold(Span(a.doc_id, a.start, b.end, ""), q)

        ranked = found.ranked
        width = max(len(index.chunks_of_sentence[c.pos]) for c in ranked)
        chunks = np.full((len(ranked), width), -1, dtype=np.int64)
        for row, c in enumerate(ranked):
            own = index.chunks_of_sentence[c.pos]
            chunks[row, : len(own)] = own
        asked.append(
            Asked(
                found.query,
                np.array([c.pos for c in ranked]),
                chunks,
                np.array(
                    [
                        config.lexical_weight * part[c.pos].lexical
                        - (config.number_penalty if part[c.pos].unnumbered else 0.0)
                        for c in ranked
                    ],
                    dtype=np.float32,
                ),
                np.array(
                    [holds(c.pos, c.pos) or any(holds(*p) for p in signals.pairs_of(index, c.pos)) for c in ranked]
                ),
                np.array([holds(c.first, c.last) for c in ranked]),
            )
        )
    return asked


class _Batch:
    """A batch of questions padded to the same number of candidates and chunks, as torch tensors."""

    def __init__(self, asked: list[Asked]) -> None:
        import torch

        k = max(len(a.sentences) for a in asked)
        m = max(a.chunks.shape[1] for a in asked)
        n = len(asked)
        sentences = np.zeros((n, k), dtype=np.int64)
        chunks = np.full((n, k, m), -1, dtype=np.int64)
        extra = np.zeros((n, k), dtype=np.float32)
        target = np.zeros((n, k), dtype=bool)
        valid = np.zeros((n, k), dtype=bool)
        for i, a in enumerate(asked):
            size = len(a.sentences)
            sentences[i, :size] = a.sentences
            chunks[i, :size, : a.chunks.shape[1]] = a.chunks
            extra[i, :size] = a.extra
            target[i, :size] = a.target
            valid[i, :size] = True
        self.query = torch.tensor(np.stack([a.query for a in asked]))
        self.sentences = torch.tensor(sentences)
        self.chunks = torch.tensor(np.maximum(chunks, 0))
        self.chunk_valid = torch.tensor(chunks >= 0)
        self.extra = torch.tensor(extra)
        self.target = torch.tensor(target)
        self.valid = torch.tensor(valid)


def _network(dims: int, hidden: int) -> Any:
    import torch

    class Network(torch.nn.Module):
        """``q + up(gelu(down(q)))``, normalised; ``up`` starts at zero (the identity)."""

        def __init__(self) -> None:
            super().__init__()
            self.down = torch.nn.Linear(dims, hidden)
            self.up = torch.nn.Linear(hidden, dims)
            torch.nn.init.zeros_(self.up.weight)  # starts as the identity: the bi-encoder's own vector
            torch.nn.init.zeros_(self.up.bias)

        def forward(self, query: torch.Tensor) -> torch.Tensor:
            out = query + self.up(torch.nn.functional.gelu(self.down(query), approximate="tanh"))
            return torch.nn.functional.normalize(out, dim=-1)

    return Network()


def _scores(network: Any, batch: _Batch, sentence_vectors: Any, chunk_vectors: Any, weight: float) -> Any:
    """The service's score of every candidate with the read question vector (padding at -inf)."""
    import torch

    query = network(batch.query)  # (B, D)
    own = torch.einsum("bkd,bd->bk", sentence_vectors[batch.sentences], query)
    chunk = torch.einsum("bkmd,bd->bkm", chunk_vectors[batch.chunks], query)
    chunk = chunk.masked_fill(~batch.chunk_valid, -torch.inf).max(dim=2).values
    score = weight * own + (1 - weight) * chunk + batch.extra
    return score.masked_fill(~batch.valid, -torch.inf)


def hit_rate(scores: Any, asked: list[Asked]) -> float:
    """Share of questions whose best-scored candidate's answer holds the gold answer."""
    best = scores.argmax(dim=1).tolist()
    return float(np.mean([a.answer_hit[j] for a, j in zip(asked, best)]))


def fit(
    train: list[Asked],
    validation: list[Asked],
    sentence_vectors: np.ndarray,
    chunk_vectors: np.ndarray,
    sentence_weight: float,
    recipe: Recipe,
) -> list[dict[str, Any]]:
    """Train on ``train``; every epoch's mean loss and hit@1 on ``train`` and ``validation`` (epoch 0:
    before any step, the bi-encoder's own ranking)."""
    import torch

    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    vectors = torch.tensor(sentence_vectors), torch.tensor(chunk_vectors)
    network = _network(sentence_vectors.shape[1], recipe.hidden)
    optimiser = torch.optim.AdamW(network.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    learnable = [a for a in train if a.target.any()]
    batches = {"train": (_Batch(train), train), "validation": (_Batch(validation), validation)}

    def hits() -> dict[str, float]:
        with torch.no_grad():
            return {
                name: round(hit_rate(_scores(network, batch, *vectors, sentence_weight), asked), 4)
                for name, (batch, asked) in batches.items()
            }

    history: list[dict[str, Any]] = [{"epoch": 0, "loss": None, **hits()}]
    for epoch in range(1, recipe.epochs + 1):
        order, total = rng.permutation(len(learnable)), 0.0
        for start in range(0, len(order), recipe.batch):
            batch = _Batch([learnable[i] for i in order[start : start + recipe.batch]])
            scores = _scores(network, batch, *vectors, sentence_weight) / TEMPERATURE
            positive = torch.logsumexp(scores.masked_fill(~batch.target, -torch.inf), dim=1)
            loss = (torch.logsumexp(scores, dim=1) - positive).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch.query)
        history.append({"epoch": epoch, "loss": round(total / len(learnable), 4), **hits()})
    return history


def split(questions: list[EvalQuestion], asked: list[Asked], validation_docs: set[str]) -> tuple[list, list]:
    """``gather``'s questions (the answerable ones with a span, in order) into training and validation."""
    answerable = [q for q in questions if q.answerable and q.answers]
    train = [a for q, a in zip(answerable, asked) if q.doc_id not in validation_docs]
    return train, [a for q, a in zip(answerable, asked) if q.doc_id in validation_docs]


def main(argv: list[str] | None = None) -> int:
    from service.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m research.query_adapter", description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, help="width of the residual branch (default: each recipe of RECIPES)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    recipes = RECIPES
    if args.hidden is not None:
        recipes = [Recipe(args.hidden, args.epochs, args.learning_rate, seed=args.seed)]
    settings = Settings()
    corpus, validation_docs = piaf_training()
    encoder = settings.load_encoder()
    index = eval_index(corpus, encoder, settings.index_config(), eval_folder(settings, corpus), progress=True)
    answerer = Answerer(index, encoder, settings.answer_config(threshold=0.0)).warm_up()  # no bank measurement
    train, validation = split(corpus.questions, gather(corpus.questions, answerer), validation_docs)
    print(f"{len(train)} training questions, {len(validation)} validation questions ({len(validation_docs)} articles)")
    for recipe in recipes:
        print(f"\n{recipe}\n| epoch | loss | train hit@1 | validation hit@1 |\n|---|---|---|---|")
        for row in fit(
            train, validation, index.sentence_vectors, index.chunk_vectors, settings.sentence_weight, recipe
        ):
            print(f"| {row['epoch']} | {row['loss'] or '–'} | {row['train']:.3f} | {row['validation']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
