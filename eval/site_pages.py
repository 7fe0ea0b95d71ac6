"""Real article texts rendered as realistic web pages, with a record of every string of site chrome put
around them, for ``eval/extraction.py``.

Two templates, each in two markup styles so that neither extractor is favoured by the tags chosen:
``html5`` puts the masthead, menu, sidebar and footer in ``<header>/<nav>/<aside>/<footer>`` with the
class names of WordPress themes and plugins (``comments-area``, ``jp-relatedposts``…) or of the French
government design system; ``divs`` writes the same chrome as ``<div>``s with a page builder's meaningless
class names (:func:`_opaque`), so that no tag or class tells what a block is. In both, the cookie banner,
share buttons, related posts, byline and feedback blocks are ``<div>``s, and related posts and share buttons
sit inside ``<article>`` after the text, where WordPress plugins append them.

- :func:`wordpress_page`: a blog post (cookie banner, site name and menu, breadcrumbs, the post in
  ``<article class="post">`` with its ``<h2>`` headings, byline, share buttons, "Articles similaires",
  tags, previous/next links, WordPress's comment form, sidebar widgets, footer with legal links).
- :func:`service_public_page`: a service-public.fr fiche (consent banner, header and theme menu,
  "Accueil > Particuliers > …" breadcrumb, the "Vérifié le …" line, the fiche, "Voir aussi", "Cette page
  vous a-t-elle été utile ?", footer).

The related titles, dates, themes and menus vary from page to page (a generator seeded by the page id).
A fiche's text is rendered line by line (:func:`fiche_blocks`, the rule is in its docstring).
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass, field
from html import escape
from typing import Literal

from corpus.load import is_boilerplate, parse_plain

Style = Literal["html5", "divs"]
Block = tuple[Literal["h2", "h3", "p", "li"], str]


@dataclass
class Page:
    """One rendered page: the article (title, headings, body lines) and the chrome strings around it."""

    doc_id: str
    url: str
    html: str
    title: str
    headings: list[str]
    body: list[str]  # the article's text lines that are not headings
    chrome: list[str] = field(default_factory=list)


class _Chrome:
    """Escapes a chrome string for the page and records it (what the measurement counts as boilerplate)."""

    def __init__(self) -> None:
        self.strings: list[str] = []

    def __call__(self, text: str) -> str:
        self.strings.append(text)
        return escape(text)


def _tag(style: Style, semantic: str, classes: str, inner: str) -> str:
    tag = semantic if style == "html5" else "div"
    return f'<{tag} class="{classes}">{inner}</{tag}>'


_KEPT = {"article", "link", "meta", "html", "form", "input", "textarea"}


def _opaque(html: str) -> str:
    """The ``divs`` style's page-builder markup: ``<main>`` becomes a ``<div>``; ``id``s and ``class``es that
    say what a block is (``comments-area``, ``cookie-notice``, ``widget``, ``site-footer``…) are replaced by
    numbered, meaningless ones (``et_pb_module et_pb_text_7``); ``<article class="post">`` and the form
    controls keep theirs (WordPress core writes them whatever the theme)."""
    numbers = iter(range(1_000_000))

    def generic(match: re.Match[str]) -> str:
        tag, attributes = match.group(1), match.group(2)
        if tag in _KEPT:
            return match.group(0)
        attributes = re.sub(r'\s(?:class|id)="[^"]*"', "", attributes)
        tag = "div" if tag == "main" else tag
        extra = f' class="et_pb_module et_pb_text_{next(numbers)}"' if tag in ("div", "section", "p", "span") else ""
        return f"<{tag}{extra}{attributes}>"

    return re.sub(r"</main>", "</div>", re.sub(r"<(\w+)((?:\s[^>]*)?)>", generic, html))


def _links(c: _Chrome, labels: list[str]) -> str:
    return "<ul>" + "".join(f'<li><a href="#">{c(label)}</a></li>' for label in labels) + "</ul>"


def _article_html(blocks: list[Block]) -> str:
    out, in_list = [], False
    for kind, text in blocks:
        if kind == "li" and not in_list:
            out.append("<ul>")
        if kind != "li" and in_list:
            out.append("</ul>")
        in_list = kind == "li"
        out.append(f"<{kind}>{escape(text.strip())}</{kind}>")
    if in_list:
        out.append("</ul>")
    return "\n".join(out)


def _rng(doc_id: str) -> random.Random:
    return random.Random(zlib.crc32(doc_id.encode()))


_DATES = ["12 mars 2021", "3 juin 2020", "27 novembre 2019", "8 février 2022", "19 septembre 2021"]
_POSTS = [
    "La hernie discale au niveau S1 expliquée simplement",
    "Sciatique : quand faut-il consulter un médecin ?",
    "Douleur au genou après la course à pied : les causes fréquentes",
    "Les injections de plasma riche en plaquettes, pour qui ?",
    "Tendinite d’Achille : 5 exercices d’étirement à faire chez soi",
    "Crampes nocturnes : le rôle du magnésium",
    "Arthrose de la hanche : éviter la prothèse ?",
    "Canal lombaire étroit : symptômes et traitements",
    "Déchirure du ménisque : opérer ou non ?",
    "Le syndrome des jambes sans repos",
]
_CATEGORIES = ["Genou", "Épaule", "Colonne vertébrale", "Jambe et pied", "Hanche", "Médecine du sport"]


def seed_blocks(text: str) -> tuple[str, list[Block]]:
    """A plain-text article (``corpus.load.parse_plain``'s reading: first line the title, short standalone
    lines headings) as a title and ``<h2>``/``<p>`` blocks; its boilerplate lines (WordPress's comment
    form, which the seed ends with) are left out: the template adds the real form."""
    article = parse_plain(text, "seed")
    heading_starts = {s.start for s in article.sections if s.body_start > s.start}
    blocks: list[Block] = []
    for paragraph in re.finditer(r"[^\n]+(?:\n[^\n]+)*", text):
        line = paragraph.group(0).strip()
        if paragraph.start() == article.sections[0].start or not line or is_boilerplate(line):
            continue
        blocks.append(("h2" if paragraph.start() in heading_starts else "p", line))
    return article.title, blocks


_WP_COOKIE = (
    "Nous utilisons des cookies pour vous garantir la meilleure expérience sur notre site web.",
    "Si vous continuez à utiliser ce dernier, nous considérerons que vous acceptez l’utilisation des cookies.",
)
_WP_CONSENT = "Enregistrer mon nom, mon e-mail et mon site dans le navigateur pour mon prochain commentaire."
_WP_SITE = "Clinique du Dos et du Sport"
_WP_REQUIRED = "Les champs obligatoires sont indiqués avec *"


def _el(tag: str, classes: str, *inner: str, **attributes: str) -> str:
    """``<tag class="classes" …>inner</tag>`` (``inner`` already escaped)."""
    extra = "".join(f' {name}="{escape(value)}"' for name, value in attributes.items())
    return f'<{tag} class="{classes}"{extra}>{"".join(inner)}</{tag}>'


def wordpress_page(doc_id: str, title: str, blocks: list[Block], style: Style, url: str) -> Page:
    """A WordPress post page around ``blocks``."""
    rng, c = _rng(doc_id + style), _Chrome()
    posts, category, date = rng.sample(_POSTS, 8), rng.choice(_CATEGORIES), rng.choice(_DATES)
    cookie = _el(
        "div",
        "cookie-notice cn-position-bottom",
        _el("span", "cn-notice-text", c(_WP_COOKIE[0]), " ", c(_WP_COOKIE[1])),
        _el("a", "cn-button", c("J’accepte"), href="#"),
        _el("a", "cn-more", c("Politique de confidentialité"), href="#"),
        id="cookie-notice",
    )
    menu = ["Accueil", "Nos traitements", *rng.sample(_CATEGORIES, 3), "Prendre rendez-vous", "Contact"]
    branding = _el("p", "site-title", c(_WP_SITE)) + _el(
        "p", "site-description", c("Médecine régénérative et orthopédie interventionnelle")
    )
    header = _tag(style, "header", "site-header", branding + _tag(style, "nav", "main-navigation", _links(c, menu)))
    trail = " » ".join(f'<a href="#">{c(label)}</a>' for label in ("Accueil", "Blog", category))
    crumbs = _tag(style, "nav", "breadcrumbs", trail + " » " + _el("span", "breadcrumb_last", escape(title)))
    byline = _el("div", "entry-meta", _el("span", "posted-on", c(f"Publié le {date} par Dr Centeno")))
    entry_header = _tag(style, "header", "entry-header", _el("h1", "entry-title", escape(title)) + byline)
    share = _el(
        "div",
        "sharedaddy sd-sharing-enabled",
        _el("h3", "sd-title", c("Partager cet article :")),
        _links(c, ["Facebook", "Twitter", "LinkedIn", "E-mail", "Imprimer"]),
    )
    related = _el(
        "div",
        "jp-relatedposts",
        _el("h3", "jp-relatedposts-headline", f"<em>{c('Articles similaires')}</em>"),
        *(
            _el(
                "div",
                "jp-relatedposts-post",
                _el("h4", "jp-relatedposts-post-title", f'<a href="#">{c(post)}</a>'),
                _el("p", "jp-relatedposts-post-date", c(rng.choice(_DATES))),
                _el("p", "jp-relatedposts-post-context", c(f"Dans « {category} »")),
            )
            for post in posts[:3]
        ),
        id="jp-relatedposts",
    )
    tags = _el("div", "entry-footer", _el("span", "tags-links", c(f"Étiquettes : mollet, nerf, {category.lower()}")))
    content = _el("div", "entry-content", "\n", _article_html(blocks), "\n", share, related)
    article = _el("article", "post type-post status-publish hentry", entry_header, content, tags, id="post-42")
    post_nav = _tag(
        style,
        "nav",
        "navigation post-navigation",
        _el("div", "nav-previous", f'<a href="#">{c("Article précédent")} {c(posts[3])}</a>')
        + _el("div", "nav-next", f'<a href="#">{c("Article suivant")} {c(posts[4])}</a>'),
    )
    form = _el(
        "form",
        "comment-form",
        _el("p", "comment-notes", c("Votre adresse e-mail ne sera pas publiée."), " ", c(_WP_REQUIRED)),
        _el("p", "comment-form-comment", f"<label>{c('Commentaire *')}</label><textarea></textarea>"),
        _el("p", "comment-form-author", f"<label>{c('Nom *')}</label><input>"),
        _el("p", "comment-form-cookies-consent", f"<label>{c(_WP_CONSENT)}</label>"),
        '<p class="form-submit"><input type="submit" value="Laisser un commentaire"></p>',
        id="commentform",
    )
    reply = _el(
        "h3", "comment-reply-title", c("Laisser un commentaire"), " <small>", c("Annuler la réponse"), "</small>"
    )
    comments = _el("div", "comments-area", _el("div", "comment-respond", reply, form, id="respond"), id="comments")
    widgets = [
        _el("section", "widget widget_recent_entries", _el("h2", "widget-title", c("Articles récents")))
        + _links(c, posts[5:8]),
        _el("section", "widget widget_categories", _el("h2", "widget-title", c("Catégories")))
        + _links(c, rng.sample(_CATEGORIES, 4)),
        _el(
            "div",
            "widget widget_newsletter",
            _el("h2", "widget-title", c("Newsletter")),
            f"<p>{c('Recevez nos conseils santé chaque mois directement dans votre boîte mail.')}</p>",
            f"<p>{c('Inscrivez-vous à notre newsletter')}</p>",
        ),
    ]
    sidebar = _tag(style, "aside", "widget-area", "".join(widgets))
    legal = _links(c, ["Mentions légales", "Politique de confidentialité", "Plan du site"])
    notice = f"<p>{c(f'© 2021 {_WP_SITE}. Tous droits réservés.')}</p><p>{c('Fièrement propulsé par WordPress')}</p>"
    footer = _tag(style, "footer", "site-footer", _el("div", "site-info", legal, notice))
    main = _el("main", "site-main", article, post_nav, comments, id="main")
    page = _el(
        "div", "site", header, _el("div", "site-content", crumbs, main, sidebar, id="content"), footer, id="page"
    )
    head = f'<title>{escape(title)} – {escape(_WP_SITE)}</title><link rel="canonical" href="{escape(url)}">'
    html = f'<!DOCTYPE html>\n<html lang="fr-FR"><head><meta charset="UTF-8">{head}</head>\n'
    html += f"<body>{cookie}{page}</body></html>"
    return _page(doc_id, url, html, title, blocks, c, style)


def _page(doc_id: str, url: str, html: str, title: str, blocks: list[Block], c: _Chrome, style: Style) -> Page:
    headings = [text for kind, text in blocks if kind in ("h2", "h3")]
    body = [text for kind, text in blocks if kind not in ("h2", "h3")]
    return Page(doc_id, url, _opaque(html) if style == "divs" else html, title, headings, body, c.strings)


_THEMES = [
    "Papiers - Citoyenneté - Élections",
    "Famille - Scolarité",
    "Social - Santé",
    "Travail - Formation",
    "Argent - Impôts - Consommation",
    "Logement",
    "Transports - Mobilité",
    "Justice",
    "Étranger - Europe",
    "Loisirs - Sports - Culture",
]
_ENDS = (".", ":", ";", ",", "!", "?", "…", "»", ")")


def fiche_blocks(text: str) -> list[Block]:
    """A fiche's text as blocks, line by line (blank lines only separate): a line ending with ``:`` is a
    paragraph that opens a list; the lines after it are list items while they start in lower case or with a
    digit, or do not end with a period (the list closes after an item ending with a period); outside a list,
    a line of at most 80 characters that starts with a capital and ends without punctuation is a heading
    (``<h2>``, or ``<h3>`` right after a heading); every other line is a paragraph."""
    blocks: list[Block] = []
    in_list = False
    for raw in text.split("\n"):
        line = " ".join(raw.split())
        if not line:
            continue
        if in_list and (line[0].islower() or line[0].isdigit() or not line.endswith(".")) and not line.endswith(":"):
            blocks.append(("li", line))
            in_list = not line.endswith(".")
            continue
        in_list = line.endswith(":")
        if not in_list and len(line) <= 80 and line[0].isupper() and not line.endswith(_ENDS):
            blocks.append(("h3" if blocks and blocks[-1][0] in ("h2", "h3") else "h2", line))
        else:
            blocks.append(("p", line))
    return blocks


_SP_COOKIE = (
    "Bienvenue !",
    "Nous utilisons des cookies pour améliorer votre expérience et les services disponibles sur ce site.",
    "Pour en savoir plus, visitez la page Données personnelles et cookies.",
    "Vous pouvez, à tout moment, avoir le contrôle sur les cookies que vous souhaitez activer.",
)
_SP_CHECKED = "Vérifié le {day} janvier 2020 - Direction de l’information légale et administrative (Premier ministre)"
_SP_TAGLINE = "Le site officiel de l’administration française"
_SP_FOOTER = ["legifrance.gouv.fr", "gouvernement.fr", "data.gouv.fr", "Plan du site", "Mentions légales"]


def service_public_page(doc_id: str, title: str, text: str, url: str, others: list[str], style: Style) -> Page:
    """A service-public.fr-like fiche page: ``title`` (the fiche's question) as ``<h1>``, ``text`` rendered
    by :func:`fiche_blocks`, ``others`` (titles of other fiches) in the "Voir aussi" block."""
    rng, c = _rng(doc_id), _Chrome()
    blocks = fiche_blocks(text)
    theme, see_also = rng.choice(_THEMES), rng.sample(others, min(4, len(others)))
    buttons = "".join(
        f'<li><button class="fr-btn">{c(label)}</button></li>' for label in ("Tout accepter", "Tout refuser")
    )
    cookie = _el(
        "div",
        "fr-consent-banner",
        _el("h2", "fr-h6", c("À propos des cookies sur service-public.fr")),
        _el("p", "fr-consent-banner__content", " ".join(c(sentence) for sentence in _SP_COOKIE)),
        _el("ul", "fr-consent-banner__buttons", buttons),
        id="consent-banner",
    )
    brand = _el(
        "div",
        "fr-header__brand",
        _el("p", "fr-logo", c("République Française")),
        _el("p", "fr-header__service-title", c("Service-Public.fr")),
        _el("p", "fr-header__service-tagline", c(_SP_TAGLINE)),
    )
    menu = _links(c, ["Particuliers", "Professionnels", "Associations", *rng.sample(_THEMES, 5)])
    header = _tag(
        style,
        "header",
        "fr-header",
        brand + _links(c, ["Espace Particulier", "Se connecter"]) + _tag(style, "nav", "fr-nav", menu),
    )
    trail = "".join(f'<li><a href="#">{c(label)}</a></li>' for label in ("Accueil", "Particuliers", theme))
    crumbs = _tag(style, "nav", "fr-breadcrumb", _el("ol", "fr-breadcrumb__list", trail, f"<li>{escape(title)}</li>"))
    intro = _el(
        "div",
        "sp-intro",
        _el("h1", "fr-h1", escape(title)),
        _el("p", "sp-date", c(_SP_CHECKED.format(day=rng.randint(2, 28)))),
        _el("div", "sp-tools", _links(c, ["Imprimer la page", "Partager la page"])),
    )
    related = _el(
        "div", "sp-see-also", _el("h2", "fr-h5", c(rng.choice(["Voir aussi", "Et aussi"]))), _links(c, see_also[:3])
    )
    related += _el("div", "sp-questions", _el("h2", "fr-h5", c("Questions ? Réponses !")), _links(c, see_also[3:]))
    feedback = _el(
        "div",
        "sp-feedback",
        _el("p", "fr-h5", c("Cette page vous a-t-elle été utile ?")),
        _el(
            "div",
            "fr-btns-group",
            f'<a class="fr-btn" href="#">{c("Oui")}</a> <a class="fr-btn" href="#">{c("Non")}</a>',
        ),
        _el("p", "fr-hidden", c("Merci pour votre réponse !")),
        id="feedback",
    )
    desc = _el("p", "fr-footer__content-desc", c("Service-Public.fr, le site officiel de l’administration française."))
    notices = (
        f"<p>{c('Accessibilité : partiellement conforme')}</p><p>{c('Source : service-public.fr / DILA, 2020')}</p>"
    )
    footer = _tag(style, "footer", "fr-footer", desc + _links(c, _SP_FOOTER) + notices)
    content = _el("div", "sp-content", "\n", _article_html(blocks), "\n")
    column = _el("div", "fr-col-12 fr-col-md-8", intro, content, related, feedback, id="content")
    main = _el(
        "main", "", _el("div", "fr-container", crumbs, _el("div", "fr-grid-row", column)), id="main", role="main"
    )
    head = f'<title>{escape(title)} | Service Public</title><link rel="canonical" href="{escape(url)}">'
    html = f'<!DOCTYPE html>\n<html lang="fr"><head><meta charset="utf-8">{head}</head>\n'
    html += f"<body>{cookie}{header}{main}{footer}</body></html>"
    return _page(doc_id, url, html, title, blocks, c, style)
