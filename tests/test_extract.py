"""corpus.extract.extract_page (main content with exact offsets) and the extraction measurement
(eval/extraction.py) on small pages built here."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from corpus.extract import MAX_PAGE_CHARS, extract_page
from corpus.load import Article, boilerplate_spans, sections_from_headings
from eval.extraction import (
    Summary,
    measure,
    score_page,
    sentence_texts,
    summarise,
    surplus,
    with_markup,
    with_trafilatura,
)
from eval.site_pages import Page, fiche_blocks, service_public_page, wordpress_page

FRENCH = "L’œuvre d'Œdipe coûte 12 € — naïveté, « guillemets » et émoji 🦵🏽 : ça marche !"
PARAGRAPH = (
    "Le muscle du mollet, comme tout muscle, a une innervation. Cela signifie qu’il a un nerf qui alimente "
    "le muscle et lui dit quoi faire. La branche nerveuse commence le long de la colonne vertébrale inférieure."
)

WORDPRESS = f"""<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">
<title>Les contractions du mollet – Blog Santé</title>
<link rel="canonical" href="/blog/contractions-mollet/"></head>
<body>
<div id="cookie-notice" class="cn-banner"><span>Nous utilisons des cookies pour vous garantir la meilleure
expérience sur notre site web.</span><a href="#">J’accepte</a></div>
<div class="site-header"><p class="site-title"><a href="/">Blog Santé Dos</a></p>
<div class="main-navigation"><ul><li><a href="/">Accueil</a></li>
<li><a href="/genou/">Genou et hanche</a></li></ul></div></div>
<div class="breadcrumbs"><a href="/">Accueil</a> » <a href="/jambe/">Jambe</a></div>
<div id="primary" class="content-area"><article id="post-42" class="post type-post status-publish">
<header class="entry-header"><h1 class="entry-title">Ce n’est pas une bonne idée d’ignorer le mollet</h1></header>
<div class="entry-content">
<p>{PARAGRAPH}</p>
<p>{FRENCH}</p>
<h2>Quel est le muscle du mollet ?</h2>
<p>Le haut du muscle se fixe derrière le genou et le bas se connecte au tendon d’Achille, qui s’étend jusqu’au
talon. Si vous êtes un coureur, vous passez probablement du temps à étirer le muscle du mollet.</p>
<ul><li>Premier point : le nerf S1.</li><li>Second point : le nerf tibial.</li></ul>
<table><tr><th>Nerf</th><th>Muscle</th></tr><tr><td>S1</td><td>Gastrocnémien</td></tr></table>
<h2>Qu’est-ce qui cause les contractions ?</h2>
<p>{PARAGRAPH} Une hernie discale peut exercer une pression sur le nerf et provoquer une contraction.</p>
</div>
<div class="sharedaddy"><h3>Partager cet article :</h3><ul><li><a href="#">Facebook</a></li></ul></div>
<div class="jp-relatedposts"><h3>Articles similaires</h3>
<div class="jp-relatedposts-post"><a href="#">La hernie discale expliquée simplement aux patients</a></div></div>
</article>
<div id="comments" class="comments-area"><h3 class="comment-reply-title">Laisser un commentaire</h3>
<form id="commentform" class="comment-form"><p class="comment-notes">Votre adresse e-mail ne sera pas publiée.</p>
<textarea></textarea></form></div></div>
<div id="secondary" class="widget-area"><div class="widget"><h2>Articles récents</h2>
<ul><li><a href="#">Douleur au genou après la course à pied</a></li></ul></div></div>
<div class="site-footer"><a href="/mentions-legales/">Mentions légales</a> © 2021 Blog Santé Dos.</div>
</body></html>"""

CHROME = [
    "Nous utilisons des cookies",
    "Blog Santé Dos",
    "Genou et hanche",
    "Facebook",
    "La hernie discale expliquée simplement",
    "Laisser un commentaire",
    "Votre adresse e-mail",
    "Douleur au genou après la course",
    "Mentions légales",
]


def test_a_wordpress_page_keeps_the_post_and_drops_its_chrome():
    doc = extract_page(WORDPRESS, "https://blog.exemple.fr/contractions-mollet/?utm=x")
    assert doc.method == "trafilatura"
    for chrome in CHROME:
        assert chrome not in doc.text, chrome
    assert PARAGRAPH in doc.text
    assert doc.url == "https://blog.exemple.fr/blog/contractions-mollet/"  # canonical, resolved


def test_headings_are_spans_of_the_text_and_make_sections():
    doc = extract_page(WORDPRESS)
    assert [doc.text[s:e] for s, e in doc.headings] == [
        "Quel est le muscle du mollet ?",
        "Qu’est-ce qui cause les contractions ?",
    ]
    sections = sections_from_headings(doc.text, doc.headings, "Titre")
    assert [s.title for s in sections] == ["Titre", *(doc.text[s:e] for s, e in doc.headings)]
    assert all(doc.text[s.start : s.body_start].strip() == s.title for s in sections[1:])


def test_french_text_survives_byte_for_byte():
    doc = extract_page(WORDPRESS)
    assert FRENCH in doc.text
    assert "’" in doc.text and "d'Œdipe" in doc.text


def test_lists_and_tables_are_readable_blocks():
    blocks = extract_page(WORDPRESS).text.split("\n\n")
    assert "Premier point : le nerf S1." in blocks and "Second point : le nerf tibial." in blocks
    assert "Nerf | Muscle" in blocks and "S1 | Gastrocnémien" in blocks


def test_title_and_url_fall_back():
    doc = extract_page(
        WORDPRESS.replace('<link rel="canonical" href="/blog/contractions-mollet/">', ""), "https://x.fr/a"
    )
    assert doc.url == "https://x.fr/a"
    assert doc.title  # trafilatura's metadata title
    tiny = "<html><head><title>Onglet</title></head><body><div>x</div></body></html>"
    assert extract_page(tiny).title == "Onglet"


def test_garbage_gives_no_text_and_never_raises(caplog):
    for junk in ["", "   \n", "\x00\x01\x02" * 50, "<<<>>></p></div><![CDATA[", "<html><body></body></html>", "<!--"]:
        doc = extract_page(junk)
        assert isinstance(doc.text, str)
        assert doc.method in ("trafilatura", "fallback", "none")
        assert "\x00" not in doc.text
    assert extract_page("").method == "none"
    huge = "<p>a</p>" * (MAX_PAGE_CHARS // 8 + 1)
    assert extract_page(huge).text == ""


def test_a_page_trafilatura_cannot_read_falls_back_and_says_so(caplog):
    with caplog.at_level(logging.INFO, logger="corpus.extract"):
        doc = extract_page("<p>Un fragment, sans document autour.</p>")
    assert doc.text == "Un fragment, sans document autour.\n" and doc.method == "fallback"
    assert "hand-written loader" in caplog.text


# -- the measurement -----------------------------------------------------------------------------------------


def _article(page: Page, text: str) -> Article:
    return Article(
        page.doc_id, page.title, text, sections_from_headings(text, [], page.title), None, "", boilerplate_spans(text)
    )


def _page() -> Page:
    return Page(
        "p1",
        "https://x.fr/p1",
        "<html></html>",
        "Titre",
        ["Une section"],
        ["Première phrase du corps. Deuxième phrase du corps.", "Oui, c'est possible."],
        ["Accueil", "Oui", "Nous utilisons des cookies. Cliquez ici.", "Laisser un commentaire"],
    )


def test_known_chrome_and_known_losses_give_known_shares(tmp_path):
    page = _page()
    # keeps one chrome sentence ("Cliquez ici."), a boilerplate line that load_file excludes anyway, and
    # drops the second body sentence; "Oui" in the body is not chrome.
    text = "Première phrase du corps.\n\nOui, c'est possible.\n\nCliquez ici.\n\nLaisser un commentaire\n"
    score = score_page(page, "fake", lambda p, folder: _article(p, text), tmp_path)
    assert (score.body, score.body_lost) == (3, 1)
    assert (score.chrome, score.chrome_indexed) == (5, 1)
    assert not score.empty and score.chars == len(text)
    empty = score_page(page, "none", lambda p, folder: None, tmp_path)
    assert empty.empty and empty.body_lost == 3 and empty.chrome_indexed == 0
    summary = summarise("c", "fake", [score, empty])
    assert isinstance(summary, Summary)
    assert summary.chrome_indexed_share == round(1 / 10, 4) and summary.body_lost_share == round(4 / 6, 4)
    assert summary.empty == 1 and summary.mean_chars == round(len(text) / 2, 1)


def test_a_short_sentence_is_not_found_again_inside_a_longer_one():
    chrome = Counter(["Épaule", "Dans « Épaule »"])
    assert surplus(chrome, "texte \n Dans « Épaule »", "texte") == (1, 0)
    body = Counter(["Visa de long séjour", "Visa de long séjour valant titre"])
    assert surplus(
        body, "Visa de long séjour valant titre", "Visa de long séjour \n Visa de long séjour valant titre"
    ) == (0, 1)


def test_both_extractors_on_built_pages(tmp_path: Path):
    body = [("p", PARAGRAPH), ("h2", "Une section du billet"), ("p", FRENCH)]
    fiche = "Pour séjourner en France, il faut un titre :\nun visa,\nou une carte.\nConditions\n" + PARAGRAPH
    pages = [
        wordpress_page("wp", "Le mollet", body, "html5", "https://b.fr/mollet"),
        wordpress_page("wp-divs", "Le mollet", body, "divs", "https://b.fr/mollet"),
        service_public_page("F1", "Quel titre ?", fiche, "https://sp.fr/F1", ["Autre fiche ?", "Encore ?"], "html5"),
    ]
    summaries, details = measure({"built": pages}, {"markup": with_markup, "trafilatura": with_trafilatura()})
    by_name = {s.extractor: s for s in summaries}
    assert (
        by_name["markup"].chrome == by_name["trafilatura"].chrome == sum(len(sentence_texts(p.chrome)) for p in pages)
    )
    assert by_name["trafilatura"].chrome_indexed_share < by_name["markup"].chrome_indexed_share
    assert by_name["trafilatura"].body_lost == 0 and by_name["trafilatura"].empty == 0
    assert len(details) == 6


def test_fiche_lines_become_headings_paragraphs_and_lists():
    blocks = fiche_blocks(
        "Intro du texte.\nDéménagement\nPour suivre son conjoint\nIl faut :\nun,\ndeux.\nFin du texte."
    )
    assert blocks == [
        ("p", "Intro du texte."),
        ("h2", "Déménagement"),
        ("h3", "Pour suivre son conjoint"),
        ("p", "Il faut :"),
        ("li", "un,"),
        ("li", "deux."),
        ("p", "Fin du texte."),
    ]
