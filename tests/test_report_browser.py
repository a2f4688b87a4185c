"""The HTML report in a real browser: it renders, and it asks the network for nothing.

Needs Debian's ``chromium`` (``.ci/run`` installs it when missing); skipped,
with the reason, where it is absent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from muxsim.report import write_report
from tests.test_report import make_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def chromium(tmp_path: Path, *args: str) -> str:
    assert CHROMIUM is not None
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture
def page(tmp_path: Path) -> Path:
    write_report(make_report(), str(tmp_path / "report"))
    return tmp_path / "report" / "index.html"


def test_matrix_and_scenario_sections_render(page: Path, tmp_path: Path) -> None:
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert "<h2 id=\"matrix\">Matrix</h2>" in dom
    assert "models/conformance/pipe-x" in dom
    assert "<section id=\"s-models-conformance-pipe-x\">" in dom
    assert "&lt;b&gt;bold&lt;/b&gt;" in dom  # escaped text stayed text


def page_requests(page: Path, tmp_path: Path) -> list[str]:
    netlog = tmp_path / "netlog.json"
    chromium(tmp_path, f"--log-net-log={netlog}", "--dump-dom", page.as_uri())
    log = json.loads(netlog.read_text())
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    return [
        str(event["params"]["url"]) for event in log["events"]
        if names.get(event["type"]) == "URL_REQUEST_START_JOB"
        and "url" in event.get("params", {})
        # Chromium's own background traffic has no origin; anything the page
        # asked for would carry the page's (file) origin.
        and event.get("params", {}).get("initiator") != "not an origin"
    ]


def test_the_page_makes_no_network_request(page: Path, tmp_path: Path) -> None:
    assert page_requests(page, tmp_path) == []


def test_the_network_check_sees_a_page_request(tmp_path: Path) -> None:
    """The check above can fail: a page with a remote image is caught."""
    other = tmp_path / "other.html"
    other.write_text("<html><body><img src='http://127.0.0.1:9/x.png'></body></html>")
    assert page_requests(other, tmp_path) == ["http://127.0.0.1:9/x.png"]
