"""axe-core, the engine of browsers' accessibility audits, run by the browser tests on every page they open.

axe-core is an npm dev dependency (package.json): the tests read it from node_modules and inject it into the
page under test, so production pages never load it. A violation of a WCAG 2.0/2.1 A or AA rule whose impact
is serious or critical fails the test; minor and moderate ones are left to review.
"""

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page

AXE_JS = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")

# axe refuses to start while a run is under way on the page, so runs queue behind each other.
RUN = """async ({tags, blocking}) => {
  // preload: false, or axe copies the page's stylesheets into <style> elements of its own, which the
  // Content-Security-Policy refuses (and the tests would take for the page's own violation).
  const options = {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"], preload: false};
  const run = () => axe.run(document, options);
  window.__axeRun = (window.__axeRun || Promise.resolve()).then(run, run);
  const {violations} = await window.__axeRun;
  return violations.flatMap(v => v.nodes.map(node => ({
    rule: v.id, impact: node.impact || v.impact, help: v.help,
    target: node.target.join(" "), summary: (node.failureSummary || "").replace(/\\s+/g, " ").trim(),
  }))).filter(found => blocking.includes(found.impact));
}"""


@dataclass(frozen=True)
class Violation:
    where: str  # what was audited: a URL and the viewport
    rule: str
    impact: str
    help: str
    target: str  # CSS selector of the failing element
    summary: str

    def __str__(self) -> str:
        return f"[{self.impact}] {self.rule} on {self.where}: {self.target}\n    {self.help}. {self.summary}"


def violations(page: Page) -> list[Violation]:
    """The serious and critical violations on the page as it is now (after any htmx swap so far)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not govern
        # (an inline <script> tag would be refused, as it should be for anything else).
        page.evaluate(AXE_JS.read_text())
    size = page.viewport_size or {}
    where = f"{page.url} at {size.get('width')}x{size.get('height')}"
    found = page.evaluate(RUN, {"tags": TAGS, "blocking": list(BLOCKING)})
    return [Violation(where=where, **item) for item in found]


@dataclass
class Audit:
    """The pages one test audited and what axe found on them, kept once per element and rule."""

    found: dict[tuple[str, str, str], Violation] = field(default_factory=dict)
    audited: set[str] = field(default_factory=set)  # URLs, as page.url gives them

    def check(self, page: Page) -> list[Violation]:
        new = violations(page)
        for violation in new:
            self.found.setdefault((violation.where, violation.rule, violation.target), violation)
        self.audited.add(page.url)
        return new

    def report(self) -> str:
        """A readable list for the test's failure message; empty when axe found nothing blocking."""
        if not self.found:
            return ""
        lines = [str(violation) for violation in self.found.values()]
        return f"axe-core: {len(lines)} serious or critical WCAG 2 A/AA violations\n" + "\n".join(lines)

    def assert_clean(self) -> None:
        if self.found:
            pytest.fail(self.report(), pytrace=False)
