"""Question → verbatim, cited answer (or a reasoned abstention). No web code here.

retrieve: the question vector against chunk vectors (passages) and sentence vectors;
candidates: every candidate sentence (those of the top chunks and the nearest sentences) is scored by
its own similarity and its best chunk's, so a sentence wins when it matches *and* sits in a
passage that matches; each is answered together with a neighbour when the pair's own vector
matches the question clearly better (a two-part question) or when it is a fragment;
known questions: the site's titles and headings, embedded as questions, are compared with the question;
one it matches (``known_question``) names itself in the result and adds its section's opening to the
candidates (on a FAQ page the answer opens the page);
rank: the candidates' articles are ordered by the learned model (``service.core.ranking``: margins of
score, reading and known questions between articles), and inside an article the candidates by
``score + reader_weight × reading`` — reading being the MaxSim of the question's and each sentence's
token vectors (late interaction; ``index.tokens``), which tells apart the sentences of one passage the
vectors alone confuse (``ranking = "hand"``: the ``reader_candidates`` best by that sum, as before);
cite: the answer's offsets into the article; its text is cut from the article by those offsets,
so the two cannot disagree (``article.text[start:end] == answer.text`` by construction);
abstain: when the best score (without reading) is under the threshold (by default the one the index
measured on its corpus); only candidates whose own score clears it can be the answer; an answer whose
best score does not clear it by ``confident_margin`` is given as unsure (``Result.confident``).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace

import numpy as np

from index.encoder import Encoder, TokenEncoder
from index.search import Index
from index.tokens import Tokens, question_vectors
from service.core import abstention, ranking
from service.core.abstention import Abstention
from service.core.cite import passage_url, section_title
from service.core.config import AnswerConfig
from service.core.lexical import Overlap, asks_quantity, has_number
from service.core.question import check_question, check_text
from service.core.results import (
    Answer,
    Candidate,
    Candidates,
    Citation,
    Explanation,
    KnownQuestion,
    Passage,
    Result,
)

log = logging.getLogger(__name__)

SHORT_SENTENCE = 60  # characters: an answer this short is usually a fragment ("Plusieurs nerfs peuvent.")


class Answerer:
    """The answering component: the constructor stores, ``warm_up()`` prepares (lexical tables, the learned
    ranking, the index's abstention measurement), ``answer()`` takes the reader's raw question.

    ``service.startup.ready`` is the one way the service gets one (start, CLI, hot reload): it warms it
    up and keeps a new measurement in the index's manifest.
    """

    def __init__(
        self, index: Index, encoder: Encoder, config: AnswerConfig, ranker: ranking.Ranker | None = None
    ) -> None:
        self.index = index
        self.encoder = encoder
        self.config = config
        self.ranker = ranker  # None: the shipped model, loaded by warm_up (when the ranking is learned)
        self.abstention: Abstention | None = None  # the index's own measurement, when it sets the threshold
        self.measured_now = False  # warm_up found no current measurement in the manifest and made one
        self.warm = False
        self.overlap: Overlap | None = None
        self.numbered: list[bool] = []
        self.reader: tuple[TokenEncoder, Tokens] | None = None

    def warm_up(self) -> Answerer:
        """Build what answering reads and measure the abstention threshold when the index holds no current
        measurement (a few seconds: the off-topic bank's questions asked once). Idempotent; returns self."""
        if self.warm:
            return self
        index, config = self.index, self.config
        texts = [index.articles[s.doc_id].text[s.start : s.end] for s in index.sentences]
        self.overlap = Overlap(texts)
        self.numbered = [has_number(text) for text in texts]
        # Reading needs token vectors on both sides: the index's and the encoder's (decided once, not per question).
        if config.reader_weight > 0 and index.tokens is not None and isinstance(self.encoder, TokenEncoder):
            self.reader = self.encoder, index.tokens
        if config.ranking == "learned":
            self.ranker = self.ranker or ranking.load()
        else:
            self.ranker = None
        self.warm = True
        if config.threshold is None and index.sentences:
            self.abstention = self._abstention()
        return self

    @property
    def threshold(self) -> float:
        """The configured threshold, else the one this index's corpus measured (see ``abstention``)."""
        if self.config.threshold is not None:
            return self.config.threshold
        return self.abstention.threshold if self.abstention is not None else math.inf

    def _abstention(self) -> Abstention:
        """The index manifest's bank measurement under the configured rule, else a new one."""
        config, scoring = self.config, self.config.scoring()
        found = abstention.stored(
            self.index.manifest.abstention, scoring, config.abstain_deviations, config.abstain_floor
        )
        if found is not None:
            return found
        log.info("index %s: measuring its abstention threshold on the off-topic bank", self.index.version)
        self.measured_now = True
        return abstention.measure(
            lambda question: self._candidates(question).support,
            scoring,
            config.abstain_deviations,
            config.abstain_floor,
        )

    def answer(self, question: object, top_k: object = None) -> Result:
        """The answer to the reader's ``question`` as typed, with ``top_k`` passages (None: the configured
        number), or an abstention saying why. A question that cannot be asked (not a text, empty, too long,
        control characters) or a ``top_k`` out of bounds raises ``QuestionError``, before any work."""
        return self._timed(question, top_k, abstain=True)[0]

    def explain(self, question: object, top_k: object = None) -> Explanation:
        """What evaluation reads: the answer the service would give if it never abstained, and every
        candidate with its signals (``support``, the learned ranking's features and rank, reading)."""
        result, found = self._timed(question, top_k, abstain=False)
        return Explanation(result, found)

    def _timed(self, question: object, top_k: object, abstain: bool) -> tuple[Result, Candidates | None]:
        text, k = check_question(question, self.config.top_k if top_k is None else top_k, self.config.limits)
        if not self.warm:
            raise RuntimeError("Answerer.warm_up() must be called before answering")
        started = time.perf_counter()
        result, found = self._answer(text, k, self.threshold if abstain else -math.inf)
        result.took_ms = round((time.perf_counter() - started) * 1000, 2)
        return result, found

    def _answer(self, question: str, top_k: int, threshold: float) -> tuple[Result, Candidates | None]:
        index = self.index
        result = Result(question, False, None, index_version=index.version)
        if not index.sentences:
            result.reason = "L'index ne contient aucun article."
            return result, None
        found = self._candidates(question, max(top_k, self.config.chunk_candidates))
        chunk_hits = found.chunk_hits
        result.passages = [self._passage(pos, score) for pos, score in chunk_hits[:top_k]]
        result.support = round(found.support, 4)
        if found.known is not None and found.known.score >= self.config.known_question:
            result.known = found.known
        if found.support < threshold:
            best = max(found.ranked, key=lambda c: c.score)  # the closest, not reading's choice
            result.reason = (
                f"Les articles ne répondent pas assez précisément à cette question "
                f"(meilleur score {found.support:.3f} < seuil {threshold:.3f})."
            )
            if found.needs_number and not self.numbered[best.first]:
                result.reason += (
                    " La question demande un nombre ou une date ; le passage le plus proche n'en donne pas."
                )
            return result, found
        chosen = self._select([c for c in found.ranked if c.score >= threshold], top_k)
        best = chosen[0]
        result.answered = True
        result.confident = found.support >= threshold + self.config.confident_margin
        result.answer = self._cite(best)
        result.alternatives = [self._cite(c) for c in chosen[1:]]
        result.passages = self._answer_first(best, found.query, chunk_hits, top_k)
        return result, found

    def _candidates(self, question: str, chunks: int | None = None) -> Candidates:
        """Every candidate answer to ``question``, best first, with its signals.

        Candidates are the nearest sentences and the sentences of the top chunks; each scores
        ``w × its similarity + (1 - w) × its best chunk's similarity + λ × lexical overlap``, less
        the number penalty when the question asks for a quantity the sentence does not state:
        ``support``, the best score, is what abstention decides on. The order is the learned
        ranking's (articles by the model, then ``score + reader_weight × reading`` inside each), or by
        hand (``ranking = "hand"``) the score, the ``reader_candidates`` best re-ordered by
        ``score + reader_weight × reading``. ``chunks`` is how many chunks to retrieve (at least the
        configured chunk candidates).
        """
        config, index, overlap = self.config, self.index, self.overlap
        assert overlap is not None  # warm_up built it
        question_tokens = None
        if self.reader is not None:
            query, states = self.reader[0].encode_query_tokens(question)  # one model call for both
            question_tokens = question_vectors(states, self.reader[1].dims)
        else:
            query = self.encoder.encode_queries([question])[0]
        chunk_hits = index.search_chunks(query, max(chunks or 0, config.chunk_candidates))
        nearest = index.search_sentences(query, config.sentence_candidates)
        weights = overlap.weights(question)
        needs_number = config.number_penalty > 0 and asks_quantity(question)
        heading_scores = index.heading_scores(query)
        known = self._known(heading_scores)
        positions = self._positions(nearest, chunk_hits)
        if self.ranker is not None and known is not None and known.score >= config.known_question:
            positions |= self._opening(known)  # the answer is sought in the matched question's section too
        chunk_similarity: dict[int, float] = {}  # a chunk's cosine, once per question: its sentences share it
        scored = []
        for pos in sorted(positions):
            own = float(index.sentence_vectors[pos] @ query)
            for c in index.chunks_of_sentence[pos]:
                if c not in chunk_similarity:
                    chunk_similarity[c] = float(index.chunk_vectors[c] @ query)
            chunk = max(chunk_similarity[c] for c in index.chunks_of_sentence[pos])
            unnumbered = needs_number and not self.numbered[pos]
            score = (
                config.sentence_weight * own
                + (1 - config.sentence_weight) * chunk
                + config.lexical_weight * overlap.share(weights, pos)
                - (config.number_penalty if unnumbered else 0.0)
            )
            first, last = self._extend(pos, query)
            scored.append(Candidate(pos, first, last, score))
        scored.sort(key=lambda c: -c.score)  # stable: ties keep the order candidates were gathered in
        support = scored[0].score if scored else -math.inf
        if self.ranker is not None:
            scored = self._rank(scored, nearest, heading_scores, question_tokens)
        elif self.reader is not None and question_tokens is not None:
            tokens = self.reader[1]
            read = [
                replace(c, reading=tokens.maxsim(question_tokens, c.pos)) for c in scored[: config.reader_candidates]
            ]
            read.sort(key=lambda c: -(c.score + config.reader_weight * (c.reading or 0.0)))
            scored[: len(read)] = read
        return Candidates(query, chunk_hits, needs_number, scored, support, known)

    def _rank(
        self,
        scored: list[Candidate],
        nearest: list[tuple[int, float]],
        heading_scores: np.ndarray,
        question_tokens: np.ndarray | None,
    ) -> list[Candidate]:
        """The candidates, articles first in the learned model's order, then inside each article by
        ``score + reader_weight × reading``; each candidate keeps its article's signals and rank."""
        assert self.ranker is not None
        index, weight = self.index, self.config.reader_weight
        if not scored:
            return scored
        if self.reader is not None and question_tokens is not None:
            tokens = self.reader[1]
            scored = [replace(c, reading=tokens.maxsim(question_tokens, c.pos)) for c in scored]
        signals = ranking.signals(index, scored, nearest, heading_scores)
        docs = list(signals)
        rows = np.array([[signals[doc][name] for name in self.ranker.features] for doc in docs])
        rank = dict(zip(docs, (float(r) for r in self.ranker.score(rows))))
        ranked = []
        for c in scored:
            doc = index.sentences[c.pos].doc_id
            features = tuple(signals[doc][name] for name in ranking.SIGNALS)
            ranked.append(replace(c, features=features, rank=rank[doc]))
        ranked.sort(key=lambda c: (-(c.rank or 0.0), -(c.score + weight * (c.reading or 0.0))))
        return ranked

    def _known(self, heading_scores: np.ndarray) -> KnownQuestion | None:
        """The known question closest to the question's vector, whatever its score."""
        if not len(heading_scores):
            return None
        row = int(np.argmax(heading_scores))
        return self._known_question(row, float(heading_scores[row]))

    def _known_question(self, row: int, score: float) -> KnownQuestion:
        heading = self.index.headings[row]
        article = self.index.articles[heading.doc_id]
        return KnownQuestion(
            heading.doc_id, article.title, heading.section, heading.text, heading.question, round(score, 4)
        )

    def suggest(self, text: object, k: int) -> list[KnownQuestion]:
        """The site's known questions (titles, headings) closest to ``text``, best first, one per text:
        what the widget proposes while the reader types. ``text`` is checked like a question."""
        checked = check_text(text, self.config.limits)
        if not self.index.headings:
            return []
        scores = self.index.heading_scores(self.encoder.encode_queries([checked])[0])
        found: list[KnownQuestion] = []
        for row in np.argsort(-scores, kind="stable"):
            if len(found) == k:
                break
            if scores[row] > 0 and all(q.text != self.index.headings[row].text for q in found):
                found.append(self._known_question(int(row), float(scores[row])))
        return found

    @staticmethod
    def _select(ranked: list[Candidate], top_k: int) -> list[Candidate]:
        """The best ``top_k`` answers that do not overlap, best first."""
        chosen: list[Candidate] = []
        for candidate in ranked:
            if all(candidate.last < c.first or candidate.first > c.last for c in chosen):
                chosen.append(candidate)
                if len(chosen) == top_k:
                    break
        return chosen

    def _positions(self, nearest: list[tuple[int, float]], chunk_hits: list[tuple[int, float]]) -> set[int]:
        """Positions of the nearest sentences and of every sentence of the top chunks."""
        positions = {pos for pos, _ in nearest}
        for c_pos, _ in chunk_hits[: self.config.chunk_candidates]:
            positions.update(self._chunk_sentences(c_pos))
        return positions

    def _chunk_sentences(self, c_pos: int) -> range:
        """Positions of the sentences of chunk ``c_pos``."""
        chunk = self.index.chunks[c_pos]
        first = self.index.sentence_pos[(chunk.doc_id, chunk.first)]
        return range(first, first + chunk.last - chunk.first + 1)

    def _opening(self, known: KnownQuestion) -> set[int]:
        """The sentences of the chunk that opens the known question's section (its article's, for a title):
        on a FAQ page the answer to the page's question is its opening."""
        c_pos = self.index.opening_chunk.get((known.doc_id, known.section))
        return set() if c_pos is None else set(self._chunk_sentences(c_pos))

    def _extend(self, pos: int, query: np.ndarray) -> tuple[int, int]:
        """The sentence alone, or the pair (same paragraph) with the neighbour whose joint vector matches
        the question clearly better, each added character paying its way; a fragment always takes
        its better pair."""
        index, config = self.index, self.config
        sentence = index.sentences[pos]
        best, best_value = (pos, pos), None
        for first in (pos - 1, pos):
            row = index.pair_at.get(first)
            if row is None:
                continue
            first_pos, last_pos = index.pairs[row]
            other = index.sentences[last_pos if first_pos == pos else first_pos]
            value = float(index.pair_vectors[row] @ query) - config.pair_length_cost * (other.end - other.start)
            if best_value is None or value > best_value:
                best, best_value = index.pairs[row], value
        if best_value is None:
            return pos, pos
        short = sentence.end - sentence.start < SHORT_SENTENCE
        own = float(index.sentence_vectors[pos] @ query)
        return best if short or best_value > own + config.pair_margin else (pos, pos)

    def _answer_first(
        self, best: Candidate, query: np.ndarray, chunk_hits: list[tuple[int, float]], top_k: int
    ) -> list[Passage]:
        """The passages with the answer's own chunk first: the first passage a reader sees is the
        one that holds the answer (measured on piaf-ci: right article first 0.906 → 0.95)."""
        index = self.index
        holding = set(index.chunks_of_sentence[best.first]) & set(index.chunks_of_sentence[best.last])
        own = max(holding or index.chunks_of_sentence[best.first], key=lambda c: float(index.chunk_vectors[c] @ query))
        others = [(pos, score) for pos, score in chunk_hits if pos != own][: top_k - 1]
        return [self._passage(own, float(index.chunk_vectors[own] @ query))] + [
            self._passage(pos, score) for pos, score in others
        ]

    def _cite(self, candidate: Candidate) -> Answer:
        """The answer cut from the article by its offsets, with its citation."""
        index = self.index
        first, last = index.sentences[candidate.first], index.sentences[candidate.last]
        article = index.articles[first.doc_id]
        start, end = first.start, last.end
        citation = Citation(
            article.doc_id,
            article.title,
            section_title(article, first.section),
            start,
            end,
            passage_url(self.config.base_url, article, start, end),
        )
        return Answer(article.text[start:end], round(candidate.score, 4), citation)

    def _passage(self, pos: int, score: float) -> Passage:
        chunk = self.index.chunks[pos]
        article = self.index.articles[chunk.doc_id]
        return Passage(
            article.doc_id,
            article.title,
            section_title(article, chunk.section),
            chunk.start,
            chunk.end,
            article.text[chunk.start : chunk.end],
            round(score, 4),
        )
