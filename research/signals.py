"""The parts of a candidate's score, recomputed from the index for the experiments: the service keeps only
the score (``service.core.Candidate``), the experiments study what it is made of."""

from __future__ import annotations

from dataclasses import dataclass

from index.search import Index
from service.core import Answerer, Candidates
from service.core.lexical import asks_quantity


@dataclass(frozen=True)
class Parts:
    own: float  # the sentence's cosine similarity to the question
    chunk: float  # its best chunk's similarity
    lexical: float  # share of the question's rare words found in the sentence (IDF-weighted)
    unnumbered: bool  # the question asks for a number and the sentence states none (penalised)
    nearest_rank: int  # rank among the nearest sentences (their count when it came from a chunk only)


def parts(answerer: Answerer, question: str, found: Candidates) -> dict[int, Parts]:
    """Each candidate sentence's parts, by position: what ``Answerer`` sums into its score."""
    index, config, overlap = answerer.index, answerer.config, answerer.overlap
    assert overlap is not None, "warm the answerer up first"
    nearest = index.search_sentences(found.query, config.sentence_candidates)
    rank = {pos: r for r, (pos, _) in enumerate(nearest)}
    weights = overlap.weights(question)
    needs_number = config.number_penalty > 0 and asks_quantity(question)
    found_parts = {}
    for c in found.ranked:
        found_parts[c.pos] = Parts(
            float(index.sentence_vectors[c.pos] @ found.query),
            max(float(index.chunk_vectors[k] @ found.query) for k in index.chunks_of_sentence[c.pos]),
            overlap.share(weights, c.pos),
            needs_number and not answerer.numbered[c.pos],
            rank.get(c.pos, len(nearest)),
        )
    return found_parts


def pairs_of(index: Index, pos: int) -> list[tuple[int, int]]:
    """The pairs (first, second sentence positions) sentence ``pos`` belongs to: with the one before, the
    one after, both or neither."""
    rows = (index.pair_at.get(pos - 1), index.pair_at.get(pos))
    return [index.pairs[row] for row in rows if row is not None]


def candidates(answerer: Answerer, question: str) -> Candidates:
    """The service's candidates for ``question`` (its explain path)."""
    found = answerer.explain(question).candidates
    if found is None:
        raise ValueError("the index holds no article")
    return found
