"""The Content-Security-Policy holds in a real browser: an inline style is refused, and reported."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_injected_inline_style_is_refused_and_reported(browser, server):
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    reports: list[str] = []
    page.on("console", lambda message: reports.append(message.text))
    page.goto("/accounts/login/")

    page.evaluate(
        "document.body.insertAdjacentHTML('beforeend', '<p id=probe style=\"color: rgb(255, 0, 0)\">x</p>')"
    )
    color = page.eval_on_selector("#probe", "element => getComputedStyle(element).color")
    page.wait_for_timeout(200)  # the report is logged just after the refusal
    context.close()

    assert color != "rgb(255, 0, 0)"
    assert any("Content Security Policy" in report for report in reports), reports
