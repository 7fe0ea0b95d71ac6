"""robots.txt as RFC 9309 reads it: the group for our product token (else ``*``), longest match wins.

Not ``urllib.robotparser``: it applies the first rule that matches in file order (so ``Disallow: /`` before
``Allow: /aide/`` blocks ``/aide/``, where Google and RFC 9309 allow it: the longest pattern wins, ``Allow``
on a tie), it knows no ``*`` or ``$`` wildcards, and it treats 401/403 as "disallow all" where the RFC says
any 4xx means "no rules". The fetch-side policy (404 → allow all, 5xx or unreachable → skip the site) is in
``corpus.site``; this module only parses and matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Rule:
    allow: bool
    pattern: str

    def matches(self, path: str) -> bool:
        return _compiled(self.pattern).match(path) is not None


_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    """``*`` matches any run of characters, a final ``$`` anchors the end; the rest is literal."""
    found = _CACHE.get(pattern)
    if found is None:
        anchored = pattern.endswith("$")
        body = pattern[:-1] if anchored else pattern
        regex = ".*".join(re.escape(part) for part in unquote(body).split("*"))
        found = _CACHE[pattern] = re.compile(regex + ("$" if anchored else ""), re.DOTALL)
    return found


@dataclass
class _Group:
    agents: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    crawl_delay: float | None = None


@dataclass(frozen=True)
class Robots:
    """The rules that apply to one user agent, the crawl delay asked of it, and every ``Sitemap:`` line."""

    rules: tuple[Rule, ...] = ()
    crawl_delay: float | None = None
    sitemaps: tuple[str, ...] = ()

    def allowed(self, url: str) -> bool:
        """Whether ``url`` may be fetched: the longest matching pattern decides, ``Allow`` wins a tie."""
        parts = urlsplit(url)
        path = unquote(parts.path or "/") + (f"?{unquote(parts.query)}" if parts.query else "")
        if path == "/robots.txt":
            return True
        best: Rule | None = None
        for rule in self.rules:
            if not rule.matches(path):
                continue
            if best is None or len(rule.pattern) > len(best.pattern):
                best = rule
            elif len(rule.pattern) == len(best.pattern) and rule.allow:
                best = rule
        return best is None or best.allow


ALLOW_ALL = Robots()


def product_token(user_agent: str) -> str:
    """``"Sourcier/0.1 (+https://…)"`` → ``"sourcier"``: the name robots.txt groups are matched against."""
    return re.split(r"[/\s]", user_agent.strip(), maxsplit=1)[0].lower()


def parse_robots(text: str, user_agent: str) -> Robots:
    """The rules of every group naming our product token (groups naming it are merged, as the RFC says),
    else of the ``*`` groups; unknown lines are ignored, never an error."""
    groups: list[_Group] = []
    sitemaps: list[str] = []
    current: _Group | None = None
    in_agents = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, value = (part.strip() for part in line.split(":", 1))
        key = key.lower()
        if key == "sitemap":
            if value:
                sitemaps.append(value)
        elif key == "user-agent":
            if current is None or not in_agents:
                current = _Group()
                groups.append(current)
            current.agents.append(value.lower())
            in_agents = True
        elif current is not None and key in ("allow", "disallow"):
            in_agents = False
            if value:
                current.rules.append(Rule(key == "allow", value))
        elif current is not None and key == "crawl-delay":
            in_agents = False
            try:
                delay = float(value)
            except ValueError:
                continue
            if delay >= 0:
                current.crawl_delay = delay
    token = product_token(user_agent)
    chosen = [g for g in groups if token in g.agents] or [g for g in groups if "*" in g.agents]
    delays = [g.crawl_delay for g in chosen if g.crawl_delay is not None]
    return Robots(
        rules=tuple(rule for g in chosen for rule in g.rules),
        crawl_delay=max(delays) if delays else None,
        sitemaps=tuple(sitemaps),
    )
