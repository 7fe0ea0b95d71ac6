"""Token vectors of the index's sentences, for late interaction (``service.core.answer``'s reading).

A sentence's vector squeezes it into one point before it meets the question; its token vectors
(EmbeddingGemma's last hidden states through its Dense layers, the ones whose mean is the sentence
vector) let every question token find its best match in the sentence: MaxSim, as ColBERT scores.
Measured with ``python -m research.late_interaction`` (eval/README.md): re-scoring the service's best
candidates with it puts the right sentence first more often on every corpus, with no training.

Kept small: the first ``dims`` dimensions of each token vector, renormalised (the Matryoshka cut the
sentence vectors allow), rounded to int8 with one scale per token — 132 bytes a token at 128 dims.
On disk: ``tokens.npy`` (int8, one row per token), ``token_scales.npy`` (float32) and
``token_offsets.npy`` (sentence ``i``'s rows are ``offsets[i]:offsets[i+1]``), loaded memory-mapped:
a question reads the rows of its ten candidates, never the whole file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.encoder import unit_rows

FILES = ("tokens.npy", "token_scales.npy", "token_offsets.npy")


def quantize(states: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """One sentence's token vectors as kept: the first ``dims`` dimensions, unit length, int8 codes and
    one float32 scale per token (``codes × scale`` is the vector)."""
    kept = question_vectors(states, dims)
    scales = np.maximum(np.abs(kept).max(axis=1), 1e-12) / 127
    codes = np.round(kept / scales[:, None]).astype(np.int8)
    return codes, scales.astype(np.float32)


def question_vectors(states: np.ndarray, dims: int) -> np.ndarray:
    """Token vectors cut to ``dims`` and renormalised: a question's as they are compared (float32), and a
    sentence's before ``quantize`` rounds them."""
    return unit_rows(np.asarray(states)[:, :dims])


@dataclass
class Tokens:
    """Every sentence's token vectors, int8 with a scale per token, in sentence order."""

    codes: np.ndarray  # (tokens, dims) int8
    scales: np.ndarray  # (tokens,) float32
    offsets: np.ndarray  # (sentences + 1,) int64

    @classmethod
    def pack(cls, per_sentence: list[tuple[np.ndarray, np.ndarray]], dims: int) -> Tokens:
        """From each sentence's ``quantize`` output, in sentence order."""
        sizes = [len(codes) for codes, _ in per_sentence]
        offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
        if not per_sentence or not offsets[-1]:
            return cls(np.zeros((0, dims), np.int8), np.zeros(0, np.float32), offsets)
        codes = np.concatenate([c for c, _ in per_sentence]).astype(np.int8)
        return cls(codes, np.concatenate([s for _, s in per_sentence]).astype(np.float32), offsets)

    @property
    def dims(self) -> int:
        return int(self.codes.shape[1])

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def of(self, pos: int) -> tuple[np.ndarray, np.ndarray]:
        """Sentence ``pos``'s codes and scales (for reuse by the next build)."""
        a, b = int(self.offsets[pos]), int(self.offsets[pos + 1])
        return np.asarray(self.codes[a:b]), np.asarray(self.scales[a:b])

    def maxsim(self, question: np.ndarray, pos: int) -> float:
        """Mean over the question's tokens of the best cosine with a token of sentence ``pos``
        (``question``: ``question_vectors``); 0.0 for a sentence without tokens."""
        codes, scales = self.of(pos)
        if not len(codes) or not len(question):
            return 0.0
        sims = (question @ codes.T.astype(np.float32)) * scales[None, :]
        return float(sims.max(axis=1).mean())

    def save(self, folder: Path) -> None:
        for name, array in zip(FILES, (self.codes, self.scales, self.offsets)):
            np.save(Path(folder) / name, np.ascontiguousarray(array), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> Tokens:
        """Memory-mapped: a replica's memory holds the rows its questions read, not the file."""
        codes, scales, offsets = (np.load(Path(folder) / name, mmap_mode="r", allow_pickle=False) for name in FILES)
        return cls(codes, scales, np.asarray(offsets))

    def consistent(self, sentences: int) -> bool:
        """Counts agree: one offset per sentence and one more, one scale per token, offsets rising."""
        return (
            self.codes.ndim == 2
            and self.codes.dtype == np.int8
            and len(self.offsets) == sentences + 1
            and int(self.offsets[0]) == 0
            and int(self.offsets[-1]) == len(self.codes) == len(self.scales)
            and bool(np.all(np.diff(self.offsets) >= 0))
        )
