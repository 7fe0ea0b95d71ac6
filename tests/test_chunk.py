from corpus.chunk import chunks, sentences
from corpus.load import load
from tests.conftest import FIXTURES, SEED


def test_sentences_and_chunks_are_verbatim_and_never_headings_or_boilerplate():
    for article in load([SEED, FIXTURES]):
        sents = sentences(article)
        assert sents, article.doc_id
        headings = {s.title for s in article.sections if s.body_start > s.start}
        for sentence in sents:
            text = article.text[sentence.start : sentence.end]
            assert text == text.strip() and text not in headings
            assert all(not (sentence.start < e and s < sentence.end) for s, e in article.excluded)
        for chunk in chunks(article, sents, max_chars=300, overlap=1):
            assert chunk.start == sents[chunk.first].start and chunk.end == sents[chunk.last].end
            assert all(sents[i].section == chunk.section for i in range(chunk.first, chunk.last + 1))


def test_chunks_cover_every_sentence_respect_the_size_and_overlap_by_one():
    (article,) = load([SEED])
    sents = sentences(article)
    parts = chunks(article, sents, max_chars=400, overlap=1)
    covered = {i for c in parts for i in range(c.first, c.last + 1)}
    assert covered == set(range(len(sents)))
    for chunk in parts:
        assert chunk.end - chunk.start <= 400 or chunk.first == chunk.last
    same_section = [(a, b) for a, b in zip(parts, parts[1:]) if a.section == b.section]
    assert same_section and all(b.first == max(a.first + 1, a.last) for a, b in same_section)
    assert all(b.first == a.last + 1 for a, b in zip(parts, parts[1:]) if a.section != b.section)


def test_pairs_join_neighbours_of_one_paragraph_never_across_a_break_or_boilerplate():
    from corpus.chunk import pairs

    for article in load([SEED, FIXTURES]):
        sents = sentences(article)
        found = pairs(article, sents)
        assert all(j == i + 1 for i, j in found)
        for i in range(len(sents) - 1):
            gap = article.text[sents[i].end : sents[i + 1].start]
            crosses = (
                sents[i].section != sents[i + 1].section
                or "\n" in gap
                or any(sents[i].end < e and s < sents[i + 1].start for s, e in article.excluded)
            )
            assert ((i, i + 1) in found) == (not crosses), (article.doc_id, i, gap)
    (seed,) = load([SEED])
    assert 0 < len(pairs(seed, sentences(seed))) < len(sentences(seed)) - 1
