"""The Content-Security-Policy in Debian's headless Chromium, against a real ``sourcier serve`` (fake
encoder): the demo page, the widget and the article pages work under it without one violation, the
markup in articles stays inert text, and a script that slipped into a page anyway would not run."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTICLES, browser_context, page  # noqa: F401 - the shared fixtures
from tests.conftest import FIXTURES, SEED
from tests.reliability.conftest import Server

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.browser]

RECORD_VIOLATIONS = """window.__violations = [];
document.addEventListener("securitypolicyviolation", e => window.__violations.push(e.effectiveDirective));"""
INJECT = """() => {
    const script = document.createElement("script");
    script.textContent = "window.__injected = 'script'";
    document.body.append(script);
    document.body.insertAdjacentHTML("beforeend", "<img src=x onerror=\\"window.__injected = 'image'\\">");
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    from tests.reliability.conftest import process_env, run_cli, start_server

    folder = tmp_path_factory.mktemp("csp-service")
    settings = {"corpus": json.dumps([str(SEED), str(FIXTURES), str(ARTICLES)])}
    assert run_cli(["build", "--quiet"], process_env(folder, True, **settings)).returncode == 0
    started = start_server(folder, True, **settings)
    yield started
    started.stop()


def violations(page: Page) -> list[str]:
    return page.evaluate("window.__violations")


def test_demo_page_and_widget_work_under_the_policy(page: Page, server: Server):
    page.add_init_script(RECORD_VIOLATIONS)
    response = page.goto(server.url)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.locator("input[role=combobox]").fill("Quel nerf innerve le mollet ?")
    expect(page.locator("[role=option].answer mark")).to_be_visible()
    expect(page.locator("[role=option].answer mark")).not_to_be_empty()
    assert violations(page) == []


def test_article_pages_stay_inert_and_the_policy_blocks_what_slips_through(page: Page, server: Server):
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(f"{server.url}/articles/balises-piegees?start=0&end=20")
    expect(page.locator("mark#passage")).to_be_visible()
    expect(page.locator("main")).to_contain_text("<script>window.__sourcierXss='script'</script>")
    assert page.evaluate("typeof window.__sourcierXss") == "undefined"
    assert violations(page) == []
    page.evaluate(INJECT)
    page.wait_for_function("window.__violations.length >= 2")
    assert page.evaluate("typeof window.__injected") == "undefined"
    assert set(violations(page)) <= {"script-src-elem", "script-src-attr"}
