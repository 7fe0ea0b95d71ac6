"""The Content-Security-Policy of the HTML pages, in Chromium against the real ``sourcier serve`` of
this folder: the demo page, the widget and the article pages work under it without one violation,
the markup in articles stays inert text, and a script that slipped into a page anyway would not run.
(Part of the reliability suite too: ``pytest -m reliability``.)"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Service

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.reliability]

RECORD_VIOLATIONS = """window.__violations = [];
document.addEventListener("securitypolicyviolation", e => window.__violations.push(e.effectiveDirective));"""
INJECT = """() => {
    const script = document.createElement("script");
    script.textContent = "window.__injected = 'script'";
    document.body.append(script);
    document.body.insertAdjacentHTML("beforeend", "<img src=x onerror=\\"window.__injected = 'image'\\">");
}"""


def violations(page: Page, at_least: int = 0) -> list[str]:
    """The CSP violations reported so far (polled: the policy forbids the eval of wait_for_function)."""
    deadline = time.monotonic() + 10
    while len(found := page.evaluate("window.__violations")) < at_least and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    return found


def test_demo_page_and_widget_work_under_the_policy(page: Page, service: Service):
    page.add_init_script(RECORD_VIOLATIONS)
    response = page.goto(service.url)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff" and "server" not in response.headers
    page.locator("input[role=combobox]").fill("Quel nerf innerve le mollet ?")
    expect(page.locator("[role=option].answer mark")).to_be_visible()
    expect(page.locator("[role=option].answer mark")).not_to_be_empty()
    assert violations(page) == []


def test_article_pages_stay_inert_and_the_policy_blocks_what_slips_through(page: Page, service: Service):
    page.add_init_script(RECORD_VIOLATIONS)
    response = page.goto(f"{service.url}/articles/balises-piegees?start=0&end=20")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    expect(page.locator("mark#passage")).to_be_visible()
    expect(page.locator("main")).to_contain_text("<script>window.__sourcierXss='script'</script>")
    assert page.evaluate("typeof window.__sourcierXss") == "undefined"
    assert violations(page) == []
    page.evaluate(INJECT)
    assert set(violations(page, at_least=2)) == {"script-src-elem", "script-src-attr"}
    assert page.evaluate("typeof window.__injected") == "undefined"
