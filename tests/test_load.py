import json

import pytest

from corpus.load import CorpusError, load, load_file, slug
from tests.conftest import FIXTURES, SEED


def test_seed_txt_keeps_text_exactly_and_finds_title_sections_and_boilerplate():
    (article,) = load_file(SEED)
    raw = SEED.read_text(encoding="utf-8")
    assert article.text == raw
    assert article.doc_id == "contractions-muscle-mollet"
    assert article.title.startswith("Ce n’est pas une Bonne Idée")
    titles = [s.title for s in article.sections]
    assert titles[1:] == [
        "Quel est le Muscle du Mollet?",
        "Qu’est-Ce qui Cause Les Contractions Musculaires du Mollet?",
        "Jetons un coup d’œil à un muscle du mollet qui se contracte",
        "Pour arrêter les contractions Causées par une irritation nerveuse, Traitez le Nerf",
    ]
    for section in article.sections:
        assert article.text[section.start : section.body_start].strip() == section.title
    excluded = [article.text[s:e] for s, e in article.excluded]
    assert excluded == ["Laisser un commentaire", "Votre adresse e-mail ne sera pas publiée."]


def test_markdown_front_matter_headings_and_inline_marks():
    (article,) = load_file(FIXTURES / "guide-cœur.md")
    assert article.doc_id == "guide-coeur"
    assert article.title == "Le cœur et l’effort"
    assert article.url == "https://exemple.fr/guide-coeur"
    assert "**" not in article.text and "](" not in article.text and "#" not in article.text
    assert "Le cœur accélère donc pour envoyer plus de sang 🫀." in article.text
    assert [s.title for s in article.sections] == [
        "Le cœur et l’effort",
        "Pourquoi le cœur s’accélère ?",
        "Récupération",
    ]
    for section in article.sections[1:]:
        assert article.text[section.start : section.body_start] == section.title


def test_html_main_text_without_scripts_nav_or_forms():
    (article,) = load_file(FIXTURES / "piege.html")
    assert article.title == "Sécurité & pièges"
    assert article.url == "https://exemple.fr/piege"
    assert "jamais indexé" not in article.text and "Accueil" not in article.text
    assert 'alert("head")' not in article.text and "Tous droits" not in article.text
    assert "<script>alert(1)</script>" in article.text  # escaped text in the page is content, kept as text
    assert [s.title for s in article.sections] == ["Sécurité & pièges", "Images piégées"]


def test_jsonl_articles_keep_their_text_and_url():
    articles = load_file(FIXTURES / "bulk.jsonl")
    assert [a.doc_id for a in articles] == ["velo-01", "pain-02"]
    raw = [json.loads(line) for line in (FIXTURES / "bulk.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [a.text for a in articles] == [r["text"] for r in raw]
    assert articles[0].url == "https://exemple.fr/velo" and articles[1].url is None


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"id": "a", "title": "T", "text": "x"}\n{pas du json}\n', ":2: not a JSON object"),
        (b'{"id": "a", "title": "T"}\n', "field 'text'"),
        (b"[1, 2]\n", "expected a JSON object"),
        (
            b'{"id": "a", "title": "T", "text": "x"}\n{"id": "a", "title": "U", "text": "y"}\n',
            "duplicate article id 'a'",
        ),
    ],
)
def test_bad_jsonl_is_reported_with_its_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        load([path])


def test_not_utf8_binary_empty_and_unknown_files_are_refused_clearly(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Café crème".encode("latin-1"))
    with pytest.raises(CorpusError, match="latin.txt: not UTF-8"):
        load([latin])
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"abc\x00def")
    with pytest.raises(CorpusError, match="binary"):
        load([binary])
    empty = tmp_path / "vide.md"
    empty.write_text("   \n", encoding="utf-8")
    with pytest.raises(CorpusError, match="empty"):
        load([empty])
    with pytest.raises(CorpusError, match="no such file"):
        load([tmp_path / "absent"])


def test_crlf_is_normalised_and_slugs_are_stable():
    assert slug("Guide du Cœur – été 2024") == "guide-du-coeur-ete-2024"


def test_folder_load_is_sorted_and_covers_every_format():
    ids = [a.doc_id for a in load([FIXTURES])]
    assert ids == ["velo-01", "pain-02", "guide-coeur", "piege"]


def test_ids_come_from_the_path_under_the_corpus_folder(tmp_path):
    """A static export repeats file names (index.html in every folder): ids are relative paths, a
    folder's index page is the folder, and the same tree gives the same ids on every build."""
    for name in ["index.html", "Aide/index.html", "Aide/Arrêt maladie.md", "Aide/FAQ/index.htm", "blog/index.txt"]:
        path = tmp_path / "site" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "<h1>Titre</h1><p>Un texte.</p>" if "htm" in name else "# Titre\n\nUn texte.\n"
        path.write_text(text, encoding="utf-8")
    ids = [a.doc_id for a in load([tmp_path / "site"])]
    assert sorted(ids) == ["aide", "aide/arret-maladie", "aide/faq", "blog", "index"]
    assert ids == [a.doc_id for a in load([tmp_path / "site"])]
    assert [a.doc_id for a in load([tmp_path / "site" / "Aide" / "Arrêt maladie.md"])] == ["arret-maladie"]
    (tmp_path / "site" / "aide.txt").write_text("Un autre texte.\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="duplicate article id 'aide'"):
        load([tmp_path / "site"])
