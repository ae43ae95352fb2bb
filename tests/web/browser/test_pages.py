"""Every dashboard page in headless chromium, light and dark: no console, script or CSP
error, every chart drawn with points, no request that leaves 127.0.0.1; a screenshot of
each written to tests/web/screenshots/ for review."""

from __future__ import annotations

import time

import pytest

from gdpo.storage.aggregate import zone
from tests.web.browser.pages import (chart_report, console_errors, contrast, drain_logs, install_watch, load,
                                     luminance, off_loopback, page_colors, requested_urls, screenshot,
                                     set_color_scheme)

TZ = "Europe/Warsaw"


def pages(summary) -> list[tuple[str, str, int]]:
    """(name, path, least number of charts) of every page, over the simulated run."""
    first_day = summary.start.astimezone(zone(TZ)).date()
    return [("overview", "/", 1),
            ("timeseries-day", f"/timeseries?range=day&date={first_day}", 2),
            ("timeseries-day-raw", f"/timeseries?range=day&date={first_day}&raw=1", 2),
            ("timeseries-week", "/timeseries?range=week", 2),
            ("timeseries-month", "/timeseries?range=month", 2),
            ("timeseries-year", "/timeseries?range=year", 2),
            ("decisions", "/decisions", 0),
            ("sessions", "/sessions", 0),
            ("prices", f"/prices?date={first_day}", 1),
            ("monthly", "/monthly", 1),
            ("system", "/system", 0),
            ("savings", "/savings?simulated=1", 1)]


PAGE_NAMES = ["overview", "timeseries-day", "timeseries-day-raw", "timeseries-week", "timeseries-month",
              "timeseries-year", "decisions", "sessions", "prices", "monthly", "system", "savings"]


@pytest.fixture(scope="module")
def watched(browser):
    """The browser with the error watcher installed."""
    install_watch(browser)
    return browser


def wait_for_savings(driver, shot) -> None:
    """The Savings page computes in the background and reloads itself: wait for its result
    (a screenshot of the computing note written to ``shot`` when it was seen)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    if driver.find_elements(By.CSS_SELECTOR, "[data-computing]"):
        screenshot(driver, shot)
    WebDriverWait(driver, 90).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && !document.querySelector('[data-computing], [data-stale]')"
        " && Array.from(document.querySelectorAll('figure[data-chart]')).every(function (f) { return f.chart; })"))


def check_page(driver, base: str, path: str, min_charts: int, shot) -> list[dict]:
    """Load a page, write its screenshot to ``shot``, and assert: no errors, only loopback
    requests, charts with points."""
    drain_logs(driver)
    load(driver, base + path)
    if path.startswith("/savings"):
        wait_for_savings(driver, shot.with_name(shot.stem + "-computing.png"))
    screenshot(driver, shot)
    errors = console_errors(driver)
    assert not errors, f"{path}: {errors}"
    urls = requested_urls(driver)
    assert any(u.startswith(base) for u in urls), f"{path}: no request seen in the network log"
    assert not off_loopback(urls), f"{path}: requests off loopback: {off_loopback(urls)}"
    assert "Bad parameter" not in driver.title and "unavailable" not in driver.title.lower(), driver.title
    report = chart_report(driver)
    assert len(report) >= min_charts, f"{path}: {len(report)} charts, expected at least {min_charts}"
    for c in report:
        assert c["drawn"] and c["x"] > 0 and c["values"] > 0, f"{path}: chart without points: {c}"
        assert c["attr"] == str(c["x"]), f"{path}: data-points {c['attr']} != {c['x']}"
    return report


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_page_renders_light(watched, live_url, evening_db, screenshots, name):
    """Light scheme: the page renders cleanly; dark text on a light background."""
    path, min_charts = {n: (p, m) for n, p, m in pages(evening_db[1])}[name]
    set_color_scheme(watched, "light")
    check_page(watched, live_url, path, min_charts, screenshots / f"{name}.png")
    colors = page_colors(watched)
    assert luminance(colors["bg"]) > 0.8 and contrast(colors["bg"], colors["fg"]) >= 7, colors


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_page_renders_dark(watched, live_url, evening_db, screenshots, name):
    """Dark scheme (prefers-color-scheme emulated): light text on a dark background, chart
    axes and grid in the page's colours, not uPlot's black."""
    path, min_charts = {n: (p, m) for n, p, m in pages(evening_db[1])}[name]
    set_color_scheme(watched, "dark")
    try:
        report = check_page(watched, live_url, path, min_charts, screenshots / f"{name}-dark.png")
        colors = page_colors(watched)
        assert luminance(colors["bg"]) < 0.05 and contrast(colors["bg"], colors["fg"]) >= 7, colors
        if colors["th"]:
            assert contrast(colors["bg"], colors["th"]) >= 4.5, colors
        for c in report:
            assert contrast(colors["bg"], c["axis"]) >= 4.5, f"{path}: axis colour {c['axis']} on {colors['bg']}"
    finally:
        set_color_scheme(watched, "light")


def test_chart_times_are_in_the_dashboard_timezone(watched, live_url, evening_db):
    """The browser runs in America/New_York; the Prices chart of a day starts at that day's
    local midnight in Europe/Warsaw, and its legend says so."""
    first_day = evening_db[1].start.astimezone(zone(TZ)).date()
    drain_logs(watched)
    load(watched, live_url + f"/prices?date={first_day}")
    assert watched.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone") == "America/New_York"
    shown = watched.execute_script("""
        var u = document.querySelector('figure[data-chart]').chart;
        u.setCursor({left: u.valToPos(u.data[0][0], 'x'), top: 10});
        return document.querySelector('figure[data-chart] .u-legend .u-series .u-value').textContent;""")
    assert shown == f"{first_day} 00:00", shown


def test_charts_follow_a_scheme_change(watched, live_url):
    """Switching to dark with the page open redraws the charts in the dark colours."""
    set_color_scheme(watched, "light")
    drain_logs(watched)
    load(watched, live_url + "/timeseries?range=week")
    light_axes = {c["axis"] for c in chart_report(watched)}
    try:
        set_color_scheme(watched, "dark")
        for _ in range(50):  # the page redraws on the media-query change event: give it its turn
            bg = page_colors(watched)["bg"]
            report = chart_report(watched)
            if report and all(contrast(bg, c["axis"]) >= 4.5 for c in report):
                break
            time.sleep(0.1)
        assert report and all(contrast(bg, c["axis"]) >= 4.5 for c in report), (bg, report)
        assert {c["axis"] for c in report} != light_axes
        assert all(c["x"] > 0 and c["values"] > 0 for c in report)
        assert not console_errors(watched)
    finally:
        set_color_scheme(watched, "light")


def test_login_form_in_the_browser(watched, live_url_with_token, screenshots):
    """With a token: a page sends the browser to the login form; a wrong token is refused,
    the right one lands on the Overview through the session cookie; no errors on the way."""
    from selenium.webdriver.common.by import By

    from tests.web.browser.conftest import TOKEN

    drain_logs(watched)
    load(watched, live_url_with_token + "/prices")
    assert watched.current_url.endswith("/login"), watched.current_url
    screenshot(watched, screenshots / "login.png")
    assert not watched.find_elements(By.CSS_SELECTOR, "nav, form.logout"), "navigation or log-out before logging in"
    for token, lands_on, expected_errors in (("not-the-token", "/login", 1), (TOKEN, "/", 0)):
        field = watched.find_element(By.NAME, "token")
        field.clear()
        field.send_keys(token)
        field.submit()
        load(watched, watched.current_url)
        assert watched.current_url == live_url_with_token + lands_on, (token, watched.current_url)
        errors = console_errors(watched)
        # the refused login is answered 401, which the console reports; nothing else may be
        assert len(errors) == expected_errors and all("/login" in e and "401" in e for e in errors), errors
        assert not off_loopback(requested_urls(watched))
    assert "Overview" in watched.title
    assert watched.find_elements(By.CSS_SELECTOR, "form.logout button"), "no log-out button once logged in"
    assert chart_report(watched), "the Overview after logging in has no chart"
    watched.delete_all_cookies()


def test_the_watch_catches_a_csp_violation(watched, live_url):
    """The checks can fail: an inline script the CSP forbids is reported as an error."""
    drain_logs(watched)
    load(watched, live_url + "/system")
    watched.execute_script("var s = document.createElement('script'); s.textContent = 'window.__x = 1';"
                           "document.body.appendChild(s);")
    errors = console_errors(watched)
    assert any("CSP" in e or "Content Security Policy" in e for e in errors), errors
    assert watched.execute_script("return window.__x") is None


def test_off_loopback_is_caught():
    """A request to another host is flagged; loopback and data: URLs are not."""
    assert off_loopback(["http://127.0.0.1:1234/", "data:,", "https://cdn.example.org/u.js"]) == [
        "https://cdn.example.org/u.js"]
