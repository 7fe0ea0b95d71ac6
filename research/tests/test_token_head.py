"""The reading head experiment (eval/token_head.py) on a small synthetic set: untrained, it ranks exactly
as the service reads (index.tokens' MaxSim on the int8 vectors, ``score + 0.5 × MaxSim``); training moves
only the parts asked for, keeps the best validation epoch, and the same seed gives the same run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from index.tokens import Tokens, quantize, question_vectors
from research.late_interaction import Asked, Gathered
from research.token_head import Head, hit_rate, prepare, train


@pytest.fixture
def data() -> tuple[Gathered, Tokens]:
    rng = np.random.default_rng(5)
    sentences = [rng.normal(size=(int(rng.integers(3, 9)), 768)).astype(np.float32) for _ in range(12)]
    tokens = Tokens.pack([quantize(s, 128) for s in sentences], 128)
    asked, questions = [], []
    for i in range(10):
        positions = rng.permutation(12)[:4]
        hit = np.zeros(4, bool)
        hit[i % 4] = True
        asked.append(Asked(rng.uniform(0.3, 0.6, 4), np.zeros((4, 1)), hit, positions))
        # the question resembles its right sentence, so that reading has something to find
        right = sentences[positions[i % 4]]
        questions.append((right[:2] + 0.5 * rng.normal(size=(2, 768))).astype(np.float16))
    return Gathered(asked, questions, {}), tokens


def test_untrained_head_ranks_as_the_service_reads(data):
    gathered, tokens = data
    head = Head(alpha=0.5)
    expected = []
    for a, q in zip(gathered.asked, gathered.questions):
        vectors = question_vectors(q.astype(np.float32), tokens.dims)
        read = [s + 0.5 * tokens.maxsim(vectors, int(p)) for s, p in zip(a.score, a.positions)]
        expected.append(a.hit[int(np.argmax(read))])
    assert hit_rate(head, prepare(gathered, tokens)) == pytest.approx(np.mean(expected))
    with torch.no_grad():
        ours = head.maxsim(prepare(gathered, tokens), slice(0, 1))[0].numpy()
    vectors = question_vectors(gathered.questions[0].astype(np.float32), tokens.dims)
    service = [tokens.maxsim(vectors, int(p)) for p in gathered.asked[0].positions]
    assert ours == pytest.approx(service, abs=1e-3)  # the head renormalises the int8 vectors it projects


def test_training_moves_only_its_parts_keeps_the_best_epoch_and_is_reproducible(data):
    gathered, tokens = data
    batch = prepare(gathered, tokens)
    runs = []
    for _ in range(2):
        head = Head(alpha=0.5, shape="weights")
        history = train(head, batch, batch, epochs=3, lr=0.05, decay=0.0, temperature=0.05)
        runs.append((history, head.importance.weight.detach().clone()))
        assert torch.equal(head.query.weight, head.start[0]) and torch.equal(head.sentence.weight, head.start[1])
        assert hit_rate(head, batch) == max(h for _, _, h in history)
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])
