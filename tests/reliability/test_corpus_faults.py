"""Bad input to the corpus: ``sourcier build`` fails whole, names the file (and line), and leaves the
previous index exactly as it was; huge articles and HTML with scripts are handled by rule."""

from __future__ import annotations

from dataclasses import replace

import pytest

from corpus.load import MAX_ARTICLE_CHARS, load
from index import store
from index.build import build
from service import cli
from tests.conftest import FAKE_CONFIG, FIXTURES, SEED, FakeEncoder, make_answerer

pytestmark = pytest.mark.reliability

CONFIG = replace(FAKE_CONFIG, runtime="torch")
BAD_FILES = {
    "vide.txt": (b"", "vide.txt: the file is empty"),
    "blanc.md": (b"  \n\t\n", "blanc.md: the file is empty"),
    "latin1.txt": ("Caf\u00e9 cr\u00e8me\n\nUn texte.".encode("latin-1"), "latin1.txt: not UTF-8 (byte 3)"),
    "binaire.html": (b"<html>\x00\x01\x02</html>", "binaire.html: binary file"),
    "doublon.jsonl": (
        b'{"id": "a", "title": "A", "text": "Un."}\n{"id": "a", "title": "B", "text": "Deux."}\n',
        "doublon.jsonl:2: duplicate article id 'a'",
    ),
    "casse.jsonl": (
        b'{"id": "a", "title": "A", "text": "Un."}\n\n{"id": "b", "title": \n',
        "casse.jsonl:3: not a JSON",
    ),
    "champ.jsonl": (b'{"id": "a", "title": "A", "text": 5}\n', "champ.jsonl:1: field 'text'"),
    "enorme.txt": (b"Titre\n\n" + b"Une phrase. " * (MAX_ARTICLE_CHARS // 12 + 1), "over the 2000000 limit"),
    "conflit.txt": (b"Titre\n\nUn texte.", "duplicate article id 'contractions-muscle-mollet'"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_file_fails_the_whole_build_and_the_previous_index_stays(tmp_path, capsys, name):
    folder = tmp_path / "index"
    store.save(build(load([SEED]), FakeEncoder(), CONFIG), folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    data, message = BAD_FILES[name]
    bad_dir = tmp_path / "corpus"
    bad_dir.mkdir()
    target = bad_dir / ("contractions-muscle-mollet.txt" if name == "conflit.txt" else name)
    target.write_bytes(data)
    assert cli.main(["build", "--corpus", str(SEED), str(bad_dir), "--index", str(folder), "--quiet"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("sourcier build: ") and message in error
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "index"]  # no half-built folder left


def test_a_large_article_is_indexed_and_answered_verbatim(tmp_path):
    paragraph = (
        "Le nerf tibial innerve le muscle du mollet. Une hernie discale peut irriter la racine S1, "
        "et le mollet se contracte alors sans raison apparente.\n\n"
    )
    article = tmp_path / "grand-article.txt"
    article.write_text("Un très long article\n\n" + paragraph * 2500, encoding="utf-8")  # about 330 000 characters
    (loaded,) = load([article])
    index = build([loaded], FakeEncoder(), CONFIG)
    assert len(index.sentences) == 5000
    result = make_answerer(index, FakeEncoder(), threshold=0.3).answer("Quel nerf innerve le mollet ?")
    c = result.answer.citation
    assert loaded.text[c.start : c.end] == result.answer.text
    assert result.answer.text.startswith("Le nerf tibial innerve le muscle du mollet.")


def test_scripts_in_html_are_never_indexed_nor_answered():
    articles = load([FIXTURES / "piege.html"])
    index = build(articles, FakeEncoder(), CONFIG)
    texts = [articles[0].text[s.start : s.end] for s in index.sentences]
    assert not any("jamais indexé" in t or 'alert("head")' in t for t in texts)
    result = make_answerer(index, FakeEncoder(), threshold=0.0).answer("document.write jamais indexé")
    assert all("document.write" not in p.text for p in result.passages)
