"""Driving one page in the browser: load it, then collect what went wrong (console errors,
script and CSP errors, requests that left loopback) and what its charts hold."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import urlsplit

# Installed before any page script runs (CDP scripts are not subject to the page's CSP).
WATCH_JS = """
window.__gdpoErrors = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__gdpoErrors.push('CSP violation: ' + e.violatedDirective + ' blocked ' + e.blockedURI);
});
window.addEventListener('error', function (e) {
  var t = e.target && e.target !== window ? (e.target.src || e.target.href || e.target.tagName) : '';
  window.__gdpoErrors.push('error: ' + (e.message || ('could not load ' + t)));
}, true);
window.addEventListener('unhandledrejection', function (e) {
  window.__gdpoErrors.push('unhandled rejection: ' + e.reason);
});
"""

CHARTS_JS = """
return Array.from(document.querySelectorAll('figure[data-chart]')).map(function (f) {
  var u = f.chart;
  var values = 0;
  if (u) { u.data.slice(1).forEach(function (s) { s.forEach(function (v) { if (v != null) { values++; } }); }); }
  return {id: f.dataset.chart, drawn: !!u && !!f.querySelector('canvas'), x: u ? u.data[0].length : 0,
          values: values, attr: f.dataset.points || null,
          title: u ? (f.querySelector('.u-title') || {}).textContent : null,
          axis: u ? u.axes[1].stroke(u, 1) : null, grid: u ? u.axes[1].grid.stroke(u, 1) : null};
});
"""

COLORS_JS = """
var b = getComputedStyle(document.body);
return {bg: b.backgroundColor, fg: b.color,
        th: (document.querySelector('th') ? getComputedStyle(document.querySelector('th')).color : null)};
"""


def install_watch(driver) -> None:
    """Install the error watcher for every document the browser opens from now on."""
    driver.execute_cdp_cmd("Page.enable", {})
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_JS})


def set_color_scheme(driver, scheme: str) -> None:
    """Emulate ``prefers-color-scheme: scheme`` (light or dark)."""
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                           {"features": [{"name": "prefers-color-scheme", "value": scheme}]})


def drain_logs(driver) -> None:
    """Forget the console and network logs collected so far."""
    driver.get_log("browser")
    driver.get_log("performance")


def load(driver, url: str) -> None:
    """Open ``url`` and wait until the page and its charts are drawn."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 15).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && Array.from(document.querySelectorAll('figure[data-chart]'))"
        ".every(function (f) { return f.chart || f.dataset.failed; })"))


def console_errors(driver) -> list[str]:
    """SEVERE console messages and the watcher's script, resource and CSP errors."""
    errors = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    errors += driver.execute_script("return window.__gdpoErrors || ['the error watcher was not installed'];")
    return errors


def requested_urls(driver) -> list[str]:
    """Every URL the browser asked for since the logs were drained (Network.requestWillBeSent)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def off_loopback(urls: list[str]) -> list[str]:
    """The URLs that are neither on 127.0.0.1 nor data: URLs."""
    return [u for u in urls if not (u.startswith("data:") or urlsplit(u).hostname == "127.0.0.1")]


def chart_report(driver) -> list[dict]:
    """Per chart of the page: drawn, x points, non-null values, title, axis and grid colours."""
    return driver.execute_script(CHARTS_JS)


def page_colors(driver) -> dict:
    """The computed background and text colours of the body (and a table heading)."""
    return driver.execute_script(COLORS_JS)


def luminance(css_color: str) -> float:
    """Relative luminance 0..1 of an ``rgb(...)``/``rgba(...)`` or ``#rrggbb`` colour."""
    c = css_color.strip()
    if c.startswith("#"):
        h = c[1:]
        if len(h) == 3:
            h = "".join(ch * 2 for ch in h)
        rgb = [int(h[i:i + 2], 16) for i in (0, 2, 4)]
    else:
        rgb = [float(v) for v in c[c.index("(") + 1:c.index(")")].split(",")[:3]]

    def lin(v: float) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours (1..21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def screenshot(driver, path: Path, max_height: int = 3000) -> None:
    """A PNG of the whole page (up to ``max_height`` CSS pixels)."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height), "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot",
                                  {"format": "png", "captureBeyondViewport": True, "clip": clip})
    path.write_bytes(base64.b64decode(shot["data"]))
