"""The documentation site served by the range, in Chromium with no network beyond the range
(every other request is refused and recorded): the guides in both languages and the API
reference render under the site's CSP (no violation, no script error), search works, and axe-core
finds nothing serious on any page."""

from __future__ import annotations

from urllib.parse import urlparse

from playwright.sync_api import Browser, ConsoleMessage, Route, expect

from tests.support.live import Live, audit, team_login

PAGES = {
    "/docs/": "Range Control",
    "/docs/team/": "Team guide",
    "/docs/fr/team/": "Guide des équipes",
    "/docs/organiser/": "The organiser's runbook",
    "/docs/reference/api-operations/": "API operations",
}


def test_the_docs_and_the_api_reference_from_the_range_alone(browser: Browser, live: Live) -> None:
    context = browser.new_context()  # the CSP holds here: a violation is an error below
    outside: list[str] = []

    def only_the_range(route: Route) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_range)
    page = context.new_page()
    errors: list[str] = []

    def console(m: ConsoleMessage) -> None:
        # The theme's language menu probes a sitemap beside each page's translation (the i18n
        # plugin's alternates are pages, not language roots) and falls back when there is none.
        if m.type == "error" and not m.location.get("url", "").endswith("/sitemap.xml"):
            errors.append(f"{m.text} ({m.location.get('url')})")

    page.on("console", console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    for path, title in PAGES.items():
        page.goto(f"{live.url}{path}")
        expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
    # Search: the index and its worker, from the range, under the CSP.
    page.goto(f"{live.url}/docs/")
    search = page.locator("input.md-search__input")
    search.click()
    search.fill("WireGuard")
    expect(page.locator(".md-search-result__item").first).to_be_visible()
    # The English guide leads to the French one by its language menu.
    page.goto(f"{live.url}/docs/team/")
    page.get_by_role("button", name="Select language").hover()
    page.locator("a[hreflang='fr']").first.click()
    expect(page.get_by_role("heading", level=1, name="Guide des équipes")).to_be_visible()
    assert errors == [], errors
    assert outside == [], outside
    context.close()
    a11y = browser.new_page(bypass_csp=True)  # axe's script is added to the page
    for path in PAGES:
        a11y.goto(f"{live.url}{path}")
        audit(a11y)
    # The portal leads a team to its guide, in the language of its pages.
    team_login(a11y, live, "Estonia")
    a11y.get_by_role("link", name="Team guide").click()
    expect(a11y.get_by_role("heading", level=1, name="Team guide")).to_be_visible()
    a11y.goto(f"{live.url}/language/fr?next=/portal/")
    a11y.get_by_role("link", name="Guide des équipes").click()
    expect(a11y.get_by_role("heading", level=1, name="Guide des équipes")).to_be_visible()
