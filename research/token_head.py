"""Train a head for reading: where the question's and the sentences' token vectors should look (issue 14).

    python -m research.late_interaction --served --set seed --set piaf-ci --set service-public-ci --set piaf-training
    python -m research.token_head --shape weights --lr 1e-2 --epochs 10        # ~4 min here; the others below

Reading (``service.core.answer``) re-scores the service's best candidates with MaxSim between the
question's token vectors and each sentence's, both EmbeddingGemma's own, untrained for the task. A
ColBERT-style head learns where to look, trained on what the service already has (the index's int8
token vectors and its query call's token states, kept by ``research.late_interaction --served``), so that
the index and its build stay as they are and a head would apply at question time to the ten
candidates read. ``--shape`` says what is trained, each part starting from what the service does now:

- ``full``: the question's 768-dim token states → 128 dims (starting from the cut) and the sentences'
  128-dim vectors → 128 (starting from the identity): ColBERT's linear head, 115k weights;
- ``diagonal``: one scale per dimension on each side (256 weights);
- ``weights``: an importance per question token from its state (769 weights; uniform at the start, the
  service's mean), so that "quel" or "est" count less than "carence";
- combinations with ``+`` (``full+weights``); ``--decay`` pulls the projections back to their start.

Trained on the PIAF training split's articles (``eval.sets.piaf_training``: none of piaf-ci's), the
epoch kept by the hit@1 of its validation articles, and measured on seed, piaf-ci and
service-public-ci, which it never saw: a listwise loss over each question's candidates (those whose
answer holds the gold span are the positives) on the service's score plus ``alpha`` × MaxSim.
Results and the verdict (none kept): eval/README.md, "A trained head for reading".
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from eval.run import eval_folder
from eval.sets import piaf_training
from index.tokens import Tokens
from research.late_interaction import Gathered, load, restore

SETS = ("seed", "piaf-ci", "service-public-ci")
SHAPES = {"full", "diagonal", "weights"}


@dataclass
class Batchable:
    """One set's questions ready for the head: padded question states and candidates' token vectors."""

    questions: torch.Tensor  # (N, Tq, 768)
    question_mask: torch.Tensor  # (N, Tq)
    sentences: torch.Tensor  # (N, K, Ts, 128)
    sentence_mask: torch.Tensor  # (N, K, Ts)
    scores: torch.Tensor  # (N, K)
    hits: torch.Tensor  # (N, K) bool


def _pad(arrays: list[np.ndarray], width: int, dims: int) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros((len(arrays), width, dims), np.float32)
    mask = np.zeros((len(arrays), width), bool)
    for i, a in enumerate(arrays):
        n = min(len(a), width)
        out[i, :n] = a[:n]
        mask[i, :n] = True
    return out, mask


def prepare(gathered: Gathered, tokens: Tokens, keep: list[int] | None = None) -> Batchable:
    """Questions ``keep`` (all by default) with the stored int8 token vectors of their candidates."""
    rows = range(len(gathered.asked)) if keep is None else keep
    asked = [gathered.asked[i] for i in rows]
    questions = [gathered.questions[i].astype(np.float32) for i in rows]
    k = max(len(a.score) for a in asked)
    cand: list[np.ndarray] = []
    for a in asked:
        for pos in a.positions.tolist():
            codes, scales = tokens.of(int(pos))
            cand.append(codes.astype(np.float32) * scales[:, None])
        cand.extend(np.zeros((0, tokens.dims), np.float32) for _ in range(k - len(a.positions)))
    q, qm = _pad(questions, max(len(x) for x in questions), questions[0].shape[1])
    s, sm = _pad(cand, min(max(len(x) for x in cand), 160), tokens.dims)
    scores = np.full((len(asked), k), -1e4, np.float32)
    hits = np.zeros((len(asked), k), bool)
    for i, a in enumerate(asked):
        scores[i, : len(a.score)] = a.score
        hits[i, : len(a.hit)] = a.hit
    n = len(asked)
    return Batchable(
        torch.from_numpy(q),
        torch.from_numpy(qm),
        torch.from_numpy(s).view(n, k, -1, tokens.dims),
        torch.from_numpy(sm).view(n, k, -1),
        torch.from_numpy(scores),
        torch.from_numpy(hits),
    )


class Head(torch.nn.Module):
    """Two linear maps into the reading space, started at what the service does without training."""

    def __init__(self, dims: int = 128, states: int = 768, alpha: float = 0.5, shape: str = "full") -> None:
        super().__init__()
        self.shape = shape
        self.importance = torch.nn.Linear(states, 1)
        with torch.no_grad():
            self.importance.weight.zero_()
            self.importance.bias.zero_()
        self.scale_q = torch.nn.Parameter(torch.ones(dims))
        self.scale_s = torch.nn.Parameter(torch.ones(dims))
        self.query = torch.nn.Linear(states, dims, bias=False)
        self.sentence = torch.nn.Linear(dims, dims, bias=False)
        with torch.no_grad():
            self.query.weight.zero_()
            self.query.weight[:, :dims] = torch.eye(dims)
            self.sentence.weight.copy_(torch.eye(dims))
        self.start = [p.detach().clone() for p in (self.query.weight, self.sentence.weight)]
        self.alpha = alpha

    def parameters_trained(self) -> list[torch.nn.Parameter]:
        found: list[torch.nn.Parameter] = []
        if "full" in self.shape:
            found += [self.query.weight, self.sentence.weight]
        if "diagonal" in self.shape:
            found += [self.scale_q, self.scale_s]
        if "weights" in self.shape:
            found += [self.importance.weight, self.importance.bias]
        return found

    def maxsim(self, b: Batchable, rows: slice | torch.Tensor) -> torch.Tensor:
        states = b.questions[rows]
        q = torch.nn.functional.normalize(self.query(states) * self.scale_q, dim=-1)  # (B, Tq, d)
        s = torch.nn.functional.normalize(self.sentence(b.sentences[rows]) * self.scale_s, dim=-1)  # (B, K, Ts, d)
        sims = torch.einsum("bqd,bktd->bkqt", q, s)
        sims = sims.masked_fill(~b.sentence_mask[rows][:, :, None, :], -2.0)
        best = sims.max(dim=-1).values  # (B, K, Tq)
        logits = self.importance(states)[..., 0].masked_fill(~b.question_mask[rows], -1e9)
        weights = torch.softmax(logits, dim=-1)  # (B, Tq): uniform at the start, as the service's mean
        return (best * weights[:, None, :]).sum(-1)

    def ranking(self, b: Batchable, rows: slice | torch.Tensor) -> torch.Tensor:
        return b.scores[rows] + self.alpha * self.maxsim(b, rows)

    def drift(self) -> torch.Tensor:
        return sum(((p - p0) ** 2).sum() for p, p0 in zip((self.query.weight, self.sentence.weight), self.start))


def hit_rate(head: Head, b: Batchable) -> float:
    with torch.no_grad():
        out = []
        for start in range(0, len(b.scores), 256):
            rows = slice(start, start + 256)
            best = head.ranking(b, rows).argmax(dim=1)
            out.append(b.hits[rows].gather(1, best[:, None])[:, 0])
        return float(torch.cat(out).float().mean())


def train(
    head: Head, data: Batchable, checks: Batchable, epochs: int, lr: float, decay: float, temperature: float
) -> list[tuple[int, float, float]]:
    """Listwise softmax over each question's candidates; the positives are the candidates that hold the
    gold answer. Returns (epoch, loss, validation hit@1) per epoch; the head keeps the best epoch."""
    generator = torch.Generator().manual_seed(0)
    useful = (data.hits.any(1) & ~data.hits.all(1)).nonzero()[:, 0]
    optimizer = torch.optim.Adam(head.parameters_trained(), lr=lr)
    history = [(0, 0.0, hit_rate(head, checks))]
    best = (history[0][2], [p.detach().clone() for p in head.parameters()])
    for epoch in range(1, epochs + 1):
        order = useful[torch.randperm(len(useful), generator=generator)]
        total = 0.0
        for start in range(0, len(order), 32):
            rows = order[start : start + 32]
            logits = head.ranking(data, rows) / temperature
            positives = logits.masked_fill(~data.hits[rows], -1e9)
            loss = (torch.logsumexp(logits, 1) - torch.logsumexp(positives, 1)).mean() + decay * head.drift()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(rows)
        validation = hit_rate(head, checks)
        history.append((epoch, total / len(useful), validation))
        if validation > best[0]:
            best = (validation, [p.detach().clone() for p in head.parameters()])
    with torch.no_grad():
        for p, kept in zip(head.parameters(), best[1]):
            p.copy_(kept)
    return history


def main(argv: list[str] | None = None) -> int:
    from service.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m research.token_head", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--saved", type=Path, default=Path("artifacts/late_interaction"), help="research.late_interaction's"
    )
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    parser.add_argument("--decay", type=float, default=0.0, help="weight of the projections' squared drift")
    parser.add_argument("--temperature", type=float, default=0.05, help="of the softmax over candidates")
    parser.add_argument("--alpha", type=float, default=0.5, help="reading's weight (SOURCIER_READER_WEIGHT)")
    parser.add_argument("--shape", default="full", help="full, diagonal, weights, or a + of them")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    if not set(args.shape.split("+")) <= SHAPES:
        parser.error(f"--shape: {args.shape!r}, expected parts of {sorted(SHAPES)} joined by +")
    settings = Settings()

    def tokens_of(name: str) -> Tokens:
        eval_set = load(name)
        return Tokens.load(eval_folder(settings, eval_set))

    training, validation_articles = piaf_training()
    asked_docs = [q.doc_id for q in training.questions if q.answerable and q.answers]
    gathered = restore(args.saved / "piaf-training-served.npz")
    tokens = tokens_of("piaf-training")
    train_rows = [i for i, d in enumerate(asked_docs) if d not in validation_articles]
    check_rows = [i for i, d in enumerate(asked_docs) if d in validation_articles]
    data, checks = prepare(gathered, tokens, train_rows), prepare(gathered, tokens, check_rows)
    others = {name: prepare(restore(args.saved / f"{name}-served.npz"), tokens_of(name)) for name in SETS}
    head = Head(alpha=args.alpha, shape=args.shape)
    before = {name: hit_rate(head, b) for name, b in [("validation", checks), *others.items()]}
    started = time.perf_counter()
    history = train(head, data, checks, args.epochs, args.lr, args.decay, args.temperature)
    for epoch, loss, hit in history:
        print(f"epoch {epoch}: loss {loss:.4f}, validation hit@1 {hit:.3f}")
    print(
        f"trained in {time.perf_counter() - started:.0f} s on {len(train_rows)} questions ({len(check_rows)} validate)"
    )
    for name, b in [("validation", checks), *others.items()]:
        print(f"{name}: {before[name]:.3f} → {hit_rate(head, b):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
