"""``/widget.js`` (cacheable, versioned) and the demo page at ``/`` that embeds it over the articles."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from service.web.deps import SiteDep, WidgetDep
from service.web.widget import demo_page

SHORT_CACHE = "public, max-age=300"  # the plain /widget.js URL picks up a new version within minutes
LONG_CACHE = "public, max-age=31536000, immutable"  # /widget.js?v=VERSION never changes

router = APIRouter(tags=["widget"])


@router.get("/widget.js", include_in_schema=False)
def get_widget(request: Request, script: WidgetDep, v: str | None = None) -> Response:
    etag = f'"{script.version}"'
    headers = {
        "ETag": etag,
        "Cache-Control": LONG_CACHE if v == script.version else SHORT_CACHE,
        "X-Sourcier-Widget-Version": script.version,
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(script.body, media_type="text/javascript; charset=utf-8", headers=headers)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, served: SiteDep) -> HTMLResponse:
    articles = list(served.answerer.index.articles.values())
    site, prefix = (served.site.id, served.site.prefix) if served.site.prefix else ("", "")
    script = f"{prefix}/widget.js?v={served.widget.version}"
    return HTMLResponse(demo_page(articles, script, request.app.state.settings.public_url, site, prefix))
