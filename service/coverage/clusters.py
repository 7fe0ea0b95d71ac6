"""Group questions into clusters of near-duplicates by embedding similarity.

Editors read a to-do list, not a list of 300 phrasings of the same question: questions are
deduplicated (case, accents and punctuation aside), embedded with the service's own encoder (its
query format), and merged by complete linkage, so that *every* pair inside a cluster is at least
``min_similarity`` apart in cosine — a cluster never drifts from "crampes la nuit" to "mot de passe"
through a chain of neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

from corpus.text import words
from index.encoder import Encoder


@dataclass(frozen=True)
class Member:
    question: str
    count: int  # how many times it was asked (or listed)


@dataclass(frozen=True)
class Cluster:
    kind: str  # "uncovered" or "low_rated"
    size: int  # questions in the cluster, repeats included
    representative: str  # the member closest to all the others
    members: list[Member]  # most asked first


def question_key(question: str) -> str:
    """The form under which two spellings of a question count as the same question."""
    return " ".join(words(question))


def cluster_questions(
    encoder: Encoder, questions: list[str], min_similarity: float, kind: str = "uncovered"
) -> list[Cluster]:
    """Clusters of ``questions``, largest first (ties: the one asked first comes first)."""
    counts: dict[str, int] = {}
    spelling: dict[str, str] = {}
    for question in questions:
        key = question_key(question) or question.strip()
        counts[key] = counts.get(key, 0) + 1
        spelling.setdefault(key, question.strip())
    keys = list(counts)
    if not keys:
        return []
    vectors = np.asarray(encoder.encode_queries([spelling[k] for k in keys]), dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    labels = _labels(vectors, min_similarity)
    groups: dict[int, list[int]] = {}
    for position, label in enumerate(labels):
        groups.setdefault(int(label), []).append(position)
    weights = np.array([counts[k] for k in keys], dtype=np.float64)
    clusters = []
    for positions in groups.values():
        members = sorted(positions, key=lambda p: (-counts[keys[p]], p))
        clusters.append(
            (
                positions[0],
                Cluster(
                    kind,
                    int(weights[positions].sum()),
                    spelling[keys[_medoid(vectors, weights, members)]],
                    [Member(spelling[keys[p]], counts[keys[p]]) for p in members],
                ),
            )
        )
    clusters.sort(key=lambda item: (-item[1].size, item[0]))
    return [cluster for _, cluster in clusters]


def _labels(vectors: np.ndarray, min_similarity: float) -> np.ndarray:
    if len(vectors) == 1:
        return np.array([1])
    distances = np.clip(pdist(vectors, "cosine"), 0.0, 2.0)
    return fcluster(linkage(distances, "complete"), t=1.0 - min_similarity, criterion="distance")


def _medoid(vectors: np.ndarray, weights: np.ndarray, members: list[int]) -> int:
    """The member with the highest (count-weighted) similarity to the cluster; ``members`` is
    already in tie-breaking order (most asked, then first asked)."""
    block = vectors[members]
    closeness = (block @ block.T) @ weights[members]
    return members[int(np.argmax(closeness))]
