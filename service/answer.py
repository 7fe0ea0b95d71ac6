"""Question → verbatim, cited answer (or a reasoned abstention). No web code here.

retrieve: the question vector against chunk vectors (passages) and sentence vectors;
select: every candidate sentence (those of the top chunks and the nearest sentences) is scored by
its own similarity and its best chunk's, so a sentence wins when it matches *and* sits in a
passage that matches; the winner is answered together with a neighbour when the pair's own vector
matches the question clearly better (a two-part question) or when it is a fragment;
cite: the answer's exact offsets, checked against the article text before it leaves;
abstain: when the best score is under the calibrated threshold.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from dataclasses import dataclass, field
from urllib.parse import quote

import numpy as np

from corpus.load import Article
from index.encoder import Encoder
from index.search import Index
from service.lexical import Overlap, asks_quantity, has_number

if TYPE_CHECKING:
    from service.settings import Settings

MAX_QUESTION_CHARS = 500
SHORT_SENTENCE = 60  # characters: an answer this short is usually a fragment ("Plusieurs nerfs peuvent.")


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


@dataclass(frozen=True)
class Candidate:
    first: int  # position of the first sentence in Index.sentences
    last: int  # position of the last sentence (inclusive)
    score: float


class QuestionError(ValueError):
    """A question that cannot be asked; ``code`` is stable, ``message`` is French for the reader."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def check_question(question: object, top_k: object = 3, max_chars: int = MAX_QUESTION_CHARS,
                   max_top_k: int = 20) -> str:
    """The stripped question, or a QuestionError saying in French what is wrong."""
    if not isinstance(question, str):
        raise QuestionError("invalid_question", "La question doit être un texte.")
    stripped = question.strip()
    if not stripped:
        raise QuestionError("empty_question", "La question est vide : écrivez une question.")
    if len(stripped) > max_chars:
        raise QuestionError("question_too_long", f"La question dépasse {max_chars} caractères "
                            f"({len(stripped)}) : raccourcissez-la.")
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in stripped) or any(0xD800 <= ord(ch) <= 0xDFFF for ch in stripped):
        raise QuestionError("invalid_question", "La question contient des caractères invalides.")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= max_top_k:
        raise QuestionError("invalid_top_k", f"top_k doit être un entier entre 1 et {max_top_k}.")
    return stripped


def passage_url(base_url: str, article: Article, start: int, end: int) -> str:
    """A link that opens the article at the passage: the article's own page with a text fragment
    when the corpus gives its URL, else Sourcier's article page with the offsets."""
    if article.url:
        words = article.text[start:end].split()
        fragment = quote(" ".join(words[:4]), safe="")
        if len(words) > 8:
            fragment += "," + quote(" ".join(words[-4:]), safe="")
        elif len(words) > 4:
            fragment = quote(" ".join(words), safe="")
        return f"{article.url}#:~:text={fragment}"
    return f"{base_url.rstrip('/')}/articles/{quote(article.doc_id, safe='')}?start={start}&end={end}#passage"


class Answerer:
    """Holds the index and the encoder; ``answer()`` is the whole question path."""

    def __init__(self, index: Index, encoder: Encoder, threshold: float, base_url: str = "",
                 sentence_weight: float = 0.7, lexical_weight: float = 0.15, chunk_candidates: int = 5,
                 sentence_candidates: int = 30, pair_margin: float = 0.01, pair_length_cost: float = 0.0001,
                 number_penalty: float = 0.2) -> None:
        self.index = index
        self.encoder = encoder
        self.threshold = threshold
        self.base_url = base_url
        self.sentence_weight = sentence_weight
        self.lexical_weight = lexical_weight
        self.chunk_candidates = chunk_candidates
        self.sentence_candidates = sentence_candidates
        self.pair_margin, self.pair_length_cost = pair_margin, pair_length_cost
        self.number_penalty = number_penalty
        texts = [index.articles[s.doc_id].text[s.start:s.end] for s in index.sentences]
        self.overlap = Overlap(texts)
        self.numbered = [has_number(text) for text in texts]

    @classmethod
    def from_settings(cls, index: Index, encoder: Encoder, settings: Settings, threshold: float | None = None) -> Answerer:
        """The Answerer the service runs, with the scoring weights and threshold of the settings."""
        return cls(index, encoder, settings.answer_threshold() if threshold is None else threshold,
                   settings.public_url, settings.sentence_weight, settings.lexical_weight,
                   pair_margin=settings.pair_margin, pair_length_cost=settings.pair_length_cost,
                   number_penalty=settings.number_penalty)

    def answer(self, question: str, top_k: int = 3, threshold: float | None = None) -> Result:
        """Answer ``question``; ``threshold`` overrides the calibrated one (the evaluation passes
        -inf to see the best candidate and its score, then applies thresholds itself)."""
        started = time.perf_counter()
        result = self._answer(question, top_k, self.threshold if threshold is None else threshold)
        result.took_ms = round((time.perf_counter() - started) * 1000, 2)
        return result

    def _answer(self, question: str, top_k: int, threshold: float) -> Result:
        index = self.index
        result = Result(question, False, None, index_version=index.version)
        if not index.sentences:
            result.reason = "L'index ne contient aucun article."
            return result
        query = self.encoder.encode_queries([question])[0]
        chunk_hits = index.search_chunks(query, max(top_k, self.chunk_candidates))
        result.passages = [self._passage(pos, score) for pos, score in chunk_hits[:top_k]]
        chosen = self._select(question, query, chunk_hits, top_k)
        best = chosen[0]
        if best.score < threshold:
            result.reason = (f"Les articles ne répondent pas assez précisément à cette question "
                             f"(meilleur score {best.score:.3f} < seuil {threshold:.3f}).")
            if self._needs_number(question) and not self.numbered[best.first]:
                result.reason += " La question demande un nombre ou une date ; le passage le plus proche n'en donne pas."
            return result
        result.answered = True
        result.answer = self._cite(best)
        result.alternatives = [self._cite(c) for c in chosen[1:]]
        result.passages = self._answer_first(best, query, chunk_hits, top_k)
        return result

    def _answer_first(self, best: Candidate, query: np.ndarray, chunk_hits: list[tuple[int, float]],
                      top_k: int) -> list[Passage]:
        """The passages with the answer's own chunk first: the first passage a reader sees is the
        one that holds the answer (measured on piaf-ci: right article first 0.906 → 0.95)."""
        index = self.index
        holding = set(index.chunks_of_sentence[best.first]) & set(index.chunks_of_sentence[best.last])
        own = max(holding or index.chunks_of_sentence[best.first], key=lambda c: float(index.chunk_vectors[c] @ query))
        others = [(pos, score) for pos, score in chunk_hits if pos != own][: top_k - 1]
        return [self._passage(own, float(index.chunk_vectors[own] @ query))] + [
            self._passage(pos, score) for pos, score in others]

    def _select(self, question: str, query: np.ndarray, chunk_hits: list[tuple[int, float]],
                top_k: int) -> list[Candidate]:
        """The best ``top_k`` non-overlapping answers (sentences or pairs), best first.

        Candidates are the sentences of the top chunks and the nearest sentences; each scores
        ``w × its similarity + (1 - w) × its best chunk's similarity + λ × lexical overlap``, less
        the number penalty when the question asks for a quantity the sentence does not state.
        """
        nearest = self.index.search_sentences(query, self.sentence_candidates)
        positions = self._candidates(nearest, chunk_hits)
        weights = self.overlap.weights(question)
        needs_number = self._needs_number(question)
        scores = {pos: self._score(pos, query, weights, needs_number) for pos in positions}
        chosen: list[Candidate] = []
        for pos in sorted(positions, key=lambda p: -scores[p]):
            first, last = self._extend(pos, query)
            if all(last < c.first or first > c.last for c in chosen):
                chosen.append(Candidate(first, last, scores[pos]))
                if len(chosen) == top_k:
                    break
        return chosen

    def _candidates(self, nearest: list[tuple[int, float]], chunk_hits: list[tuple[int, float]]) -> set[int]:
        """Positions of the nearest sentences and of every sentence of the top chunks."""
        index = self.index
        positions = {pos for pos, _ in nearest}
        for c_pos, _ in chunk_hits[: self.chunk_candidates]:
            chunk = index.chunks[c_pos]
            first = index.sentence_pos[(chunk.doc_id, chunk.first)]
            positions.update(range(first, first + chunk.last - chunk.first + 1))
        return positions

    def _score(self, pos: int, query: np.ndarray, weights: dict[str, float], needs_number: bool) -> float:
        """The candidate sentence's score (see ``_select``)."""
        index = self.index
        own = float(index.sentence_vectors[pos] @ query)
        chunk = max(float(index.chunk_vectors[c] @ query) for c in index.chunks_of_sentence[pos])
        return (self.sentence_weight * own + (1 - self.sentence_weight) * chunk
                + self.lexical_weight * self.overlap.share(weights, pos)
                - (self.number_penalty if needs_number and not self.numbered[pos] else 0.0))

    def _needs_number(self, question: str) -> bool:
        return self.number_penalty > 0 and asks_quantity(question)

    def _extend(self, pos: int, query: np.ndarray) -> tuple[int, int]:
        """The sentence alone, or the pair (same paragraph) with the neighbour whose joint vector matches
        the question clearly better, each added character paying its way; a fragment always takes
        its better pair."""
        index = self.index
        sentence = index.sentences[pos]
        best, best_value = (pos, pos), None
        for first in (pos - 1, pos):
            row = index.pair_at.get(first)
            if row is None:
                continue
            first_pos, last_pos = index.pairs[row]
            other = index.sentences[last_pos if first_pos == pos else first_pos]
            value = float(index.pair_vectors[row] @ query) - self.pair_length_cost * (other.end - other.start)
            if best_value is None or value > best_value:
                best, best_value = index.pairs[row], value
        if best_value is None:
            return pos, pos
        short = sentence.end - sentence.start < SHORT_SENTENCE
        own = float(index.sentence_vectors[pos] @ query)
        return best if short or best_value > own + self.pair_margin else (pos, pos)

    def _cite(self, candidate: Candidate) -> Answer:
        index = self.index
        first, last = index.sentences[candidate.first], index.sentences[candidate.last]
        article = index.articles[first.doc_id]
        start, end = first.start, last.end
        text = article.text[start:end]
        citation = Citation(article.doc_id, article.title, _section(article, first.section), start, end,
                            passage_url(self.base_url, article, start, end))
        return Answer(text, round(candidate.score, 4), citation)

    def _passage(self, pos: int, score: float) -> Passage:
        chunk = self.index.chunks[pos]
        article = self.index.articles[chunk.doc_id]
        return Passage(article.doc_id, article.title, _section(article, chunk.section), chunk.start, chunk.end,
                       article.text[chunk.start:chunk.end], round(score, 4))


def _section(article: Article, section: str) -> str | None:
    """The section title, or None when the article has no sections of its own."""
    return None if section == article.title and len(article.sections) <= 1 else section


def load_answerer(settings: Settings) -> Answerer:
    """The encoder and the index from the settings, refusing an index built with another model
    or settings (used by the API lifespan and the CLI alike)."""
    from index import store

    encoder = settings.load_encoder()
    index = store.load(settings.index_dir, settings.index_config(), encoder.name, encoder.dims, runtime=encoder.runtime)
    return Answerer.from_settings(index, encoder, settings)
