"""What the answering core returns: small frozen records, the same for the API, the CLI and eval."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    section: str | None
    start: int
    end: int
    url: str


@dataclass(frozen=True)
class Answer:
    text: str
    score: float
    citation: Citation


@dataclass(frozen=True)
class Passage:
    doc_id: str
    title: str
    section: str | None
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class KnownQuestion:
    """A title or heading of the site, asked as a question: the reader's question came close to it.

    ``section`` is None for an article's title; ``question`` says whether the heading is phrased as a
    question (ends with "?"), as on FAQ pages; ``score`` is the cosine of the two questions' vectors.
    """

    doc_id: str
    title: str
    section: str | None
    text: str
    question: bool
    score: float


@dataclass
class Result:
    question: str
    answered: bool
    answer: Answer | None
    alternatives: list[Answer] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    reason: str | None = None
    took_ms: float = 0.0
    index_version: str = ""
    support: float | None = None  # the best score without reading: what the threshold was compared with
    # answered and sure: the support clears the threshold by the confident margin; an answer that is not
    # confident is shown as the closest passage, to check ("à vérifier"), not as "the answer"
    confident: bool = False
    known: KnownQuestion | None = None  # the site's own question the reader's matched, when one did


@dataclass(frozen=True)
class Candidate:
    """One candidate answer: ``pos`` is the sentence in ``Index.sentences``; ``first``/``last`` the
    sentences the answer spans once paired with a neighbour (both ``pos`` when it stands alone)."""

    pos: int
    first: int
    last: int
    score: float  # what abstention compares with the threshold (see Answerer._candidates)
    reading: float | None = None  # MaxSim of question and sentence token vectors; None: not read
    features: tuple[float, ...] = ()  # its article's signals (service.core.ranking.SIGNALS)
    rank: float | None = None  # its article's log-odds under the learned ranking; None: ranked by hand


@dataclass(frozen=True)
class Candidates:
    """Every candidate of a question, best first, with the retrieval they came from.

    ``support`` is the best score (without reading): how well the corpus supports an answer, the one
    number abstention decides on; ``ranked`` puts first the candidate the ranking chose.
    """

    query: np.ndarray  # the question's vector
    chunk_hits: list[tuple[int, float]]  # (chunk position, similarity), best first
    needs_number: bool
    ranked: list[Candidate]
    support: float
    known: KnownQuestion | None = None  # the closest known question, whatever its score


@dataclass(frozen=True)
class Explanation:
    """``Answerer.explain``: the answer as if the service never abstained, and the candidates behind it
    (None for an empty index), for evaluation's numbers without abstention and the ranking's fit."""

    result: Result
    candidates: Candidates | None
