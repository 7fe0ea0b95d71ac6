"""French text helpers: sentence spans and normalisation for matching.

Nothing here changes stored text: sentences are ``(start, end)`` spans into the article text,
and :func:`normalize` produces a separate string used only to compare words.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, NamedTuple


class Span(NamedTuple):
    start: int
    end: int


# Words that end with a period without ending the sentence (compared lower-case, without the dot).
ABBREVIATIONS = frozenset(
    """
    dr dre drs m mm mme mmes mlle mlles me mgr pr pre prof st ste sts stes
    etc cf ex p pp ps vol chap fig env av apr jc j.-c n no nos tel tél art al éd ed coll
    min max sq suiv cit op id ibid vs
    janv févr fév avr juil sept oct nov déc
    """.split()
)

_CLOSERS = "\"'»”’)]"
_SPACE = re.compile(r"\s+")
# Candidate ends: terminal punctuation runs, possibly followed by closing quotes/brackets.
_END = re.compile(r"(?:\.{3}|…|[.!?]+)(?:[ \u00a0\u202f]*»|[" + re.escape(_CLOSERS) + r"])*")


def _word_before(text: str, index: int) -> str:
    """The token right before position ``index`` (letters, dots and hyphens)."""
    start = index
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in ".-"):
        start -= 1
    return text[start:index]


def _is_abbreviation(text: str, dot: int) -> bool:
    word = _word_before(text, dot)
    if not word:
        return False
    lowered = word.lower()
    if lowered in ABBREVIATIONS or lowered.rstrip(".") in ABBREVIATIONS:
        return True
    last = lowered.split(".")[-1].split("-")[-1]
    if last in ABBREVIATIONS:
        return True
    # Initials: a single capital ("J. Dupont", "J.-C."), or dotted acronyms ("U.S.A.").
    return len(last) == 1 and word[-1].isupper()


def _next_visible(text: str, index: int, end: int) -> str:
    while index < end and text[index] in " \t\u00a0\u202f":
        index += 1
    return text[index] if index < end else ""


def _is_boundary(text: str, match: re.Match, end: int) -> bool:
    punct = match.group(0)
    after = match.end()
    if after >= end:
        return True
    following = text[after]
    if not following.isspace():
        return False  # "3.5", "www.site.fr", "?!)" glued to the next word
    nxt = _next_visible(text, after, end)
    if nxt == "\n" or nxt == "":
        return True
    if punct.startswith(".") and not punct.startswith("...") and _is_abbreviation(text, match.start()):
        # "etc." is an abbreviation that often ends its sentence: it does when a capital follows.
        return _word_before(text, match.start()).lower() == "etc" and nxt.isupper()
    if punct.startswith("...") or punct.startswith("…"):
        # An ellipsis ends a sentence only when a new one visibly starts.
        return nxt.isupper() or nxt in '«"—–-'
    if nxt.islower():
        # "?" or "!" inside a sentence ("Pourquoi ? parce que…") or a lower-case continuation.
        return False
    return True


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Split ``text[start:end]`` into sentence spans (whitespace trimmed, offsets absolute).

    Line breaks always end a sentence (titles, list items and paragraphs are units of their own).
    Within a line, a sentence ends at ``. ! ? …`` (with closing quotes) unless the period belongs
    to an abbreviation ("Dr.", "M.", "etc."), an initial, a number ("3.5") or the next word starts
    in lower case.
    """
    end = len(text) if end is None else end
    spans: list[Span] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        line_start, line_end = start + line.start(), start + line.end()
        cursor = line_start
        for match in _END.finditer(text, line_start, line_end):
            if _is_boundary(text, match, line_end):
                _add(spans, text, cursor, match.end())
                cursor = match.end()
        _add(spans, text, cursor, line_end)
    return spans


def _add(spans: list[Span], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start and any(ch.isalnum() for ch in text[start:end]):
        spans.append(Span(start, end))


_FOLD = str.maketrans(
    {
        "’": "'",
        "‘": "'",
        "ʼ": "'",
        "`": "'",
        "´": "'",
        "«": '"',
        "»": '"',
        "“": '"',
        "”": '"',
        "œ": "oe",
        "Œ": "oe",
        "æ": "ae",
        "Æ": "ae",
        "\u00a0": " ",
        "\u202f": " ",
        "–": "-",
        "—": "-",
    }
)


def normalize(text: str, strip_accents: bool = True) -> str:
    """Matching form of ``text``: NFC, typographic quotes and ligatures folded, lower case,
    accents removed (unless ``strip_accents`` is false), whitespace collapsed.

    Only for comparisons: never store it, never take offsets from it.
    """
    folded = unicodedata.normalize("NFC", text).translate(_FOLD).casefold()
    if strip_accents:
        decomposed = unicodedata.normalize("NFD", folded)
        folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACE.sub(" ", folded).strip()


_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """Normalised word tokens (accents folded), for lexical overlap and metrics."""
    return _WORD.findall(normalize(text))


# Function words that carry no topic (compared after normalisation, so without accents).
STOPWORDS = frozenset(
    """
    le la les l un une des du de d au aux a et ou en dans sur sous pour par avec sans entre vers chez
    ce cet cette ces c ca cela ceci qui que quoi qu quel quelle quels quelles dont lequel laquelle
    est sont etait etaient ete etre sera seront fut a ai as avait avaient avoir ont eu fait faire
    il elle ils elles on je j tu nous vous me m te t se s lui leur leurs son sa ses mon ma mes ton ta tes
    notre nos votre vos y ne n pas plus moins tres comme mais donc or ni car si quand comment pourquoi
    combien ou tout tous toute toutes meme aussi bien peut peuvent
    """.split()
)


def terms(text: str) -> list[str]:
    """Stemmed content words (French Snowball stemmer, accents folded, function words dropped):
    the lexical signal that tells sentences sharing the question's rare words apart."""
    return [_stemmer().stemWord(w) for w in words(text) if w not in STOPWORDS and len(w) > 1]


_STEMMER = None


def _stemmer() -> Any:
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("french")
    return _STEMMER
