"""Typed dependencies of the routes. A request finds its site first (``/sites/{site}/…``, or the one
default site at the root), then reads that site's answerer once, so that it is answered from the index
it started with even when a hot reload swaps in a new one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from corpus.load import Article
from service.core.answer import Answerer
from service.settings import Settings
from service.sites import Site
from service.storage import Store
from service.storage.querylog import QueryLog
from service.web.errors import APIError
from service.web.widget import WidgetScript


@dataclass
class Served:
    """A site as the app serves it: its configuration, its widget and its current Answerer, which the
    site's hot reload (``service.web.reload``) replaces with one assignment."""

    site: Site
    answerer: Answerer
    widget: WidgetScript


def site_parameter(site_ids: list[str]) -> Callable[..., str]:
    """The ``{site}`` of every route under ``/sites/{site}/``, declared once, the served sites listed, so
    that the schema says which there are (``get_served`` answers any other with a 404)."""

    def site_path(
        site: str = Path(description="L’identifiant du site.", json_schema_extra={"enum": site_ids}),
    ) -> str:
        return site

    return site_path


def get_served(request: Request) -> Served:
    """The site the request is for: named in its path, else the one site served at the root; an unknown
    site is a 404 in the API's error shape."""
    sites: dict[str, Served] = request.app.state.sites
    site_id = request.path_params.get("site")
    if site_id is None:
        served: Served = request.app.state.root_site
        return served
    found = sites.get(site_id)
    if found is None or not found.site.prefix:
        raise APIError(404, "unknown_site", f"Site inconnu : {site_id!r}.")
    return found


SiteDep = Annotated[Served, Depends(get_served)]


def get_answerer(served: SiteDep) -> Answerer:
    return served.answerer


def find_article(answerer: Answerer, doc_id: str) -> Article:
    """The served index's article ``doc_id``, or the 404 ``unknown_article`` (articles and feedback)."""
    article = answerer.index.articles.get(doc_id)
    if article is None:
        raise APIError(404, "unknown_article", f"Article inconnu : {doc_id!r}.")
    return article


def get_db(request: Request) -> Store:
    db: Store = request.app.state.db
    return db


def get_query_log(request: Request, served: SiteDep) -> QueryLog | None:
    """The query log's writer, or None when the site's ``query_log`` is off."""
    query_log: QueryLog | None = request.app.state.query_log
    return query_log if served.site.settings.query_log else None


def get_settings(served: SiteDep) -> Settings:
    """The site's settings: the process's, with the site's own over them."""
    return served.site.settings


def get_widget(served: SiteDep) -> WidgetScript:
    return served.widget


AnswererDep = Annotated[Answerer, Depends(get_answerer)]
DatabaseDep = Annotated[Store, Depends(get_db)]
QueryLogDep = Annotated[QueryLog | None, Depends(get_query_log)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
WidgetDep = Annotated[WidgetScript, Depends(get_widget)]
