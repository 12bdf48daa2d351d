"""A person's session in a real browser: Debian's Chromium driven by Playwright.

Covers the click path of the studio: type a prompt, step through plan and sketch, edit
the instruction, reject a sketch, override a verdict, fork from an earlier step,
reload the page and reopen the session. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from studio import engines
from studio.domain import Author, Review, Stage

from .fakes import ScriptedEngine
from .ui_server import running_studio

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic", "--disable-extensions"]
ENGINE = "ui-browser-scripted"

if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip("Chromium is not installed (apt-get install -y chromium); CI installs it", allow_module_level=True)


@pytest.fixture(scope="module")
def page_and_store(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    engines.register(ENGINE, lambda: ScriptedEngine(fail_rounds=(1,)))
    ARTIFACTS.mkdir(exist_ok=True)
    with running_studio(tmp_path_factory.mktemp("ui-browser"), ENGINE) as (url, store), sync_playwright() as p, \
            tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=ARGS,
                                                       viewport={"width": 1500, "height": 1200})
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(url, wait_until="load")
        page.locator("#new").wait_for()
        yield page, store, url
        context.close()
    engines.unregister(ENGINE)


def status_is(page, pattern: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#status textarea")).to_have_value(re.compile(pattern))


def choose(page, dropdown_id: str, option_text: str) -> None:
    page.locator(f"#{dropdown_id} input").click()
    page.get_by_role("option", name=re.compile(re.escape(option_text))).first.click()


def test_a_person_steers_a_session_in_the_browser(page_and_store):
    from playwright.sync_api import expect

    page, store, url = page_and_store
    page.locator("#prompt textarea").fill("a cat and a dog")
    page.locator("#new").click()
    status_is(page, "ready")
    session_id = page.locator("#session-id textarea").input_value()

    page.locator("#step").click()
    status_is(page, "paused after plan")
    expect(page.locator("#timeline")).to_contain_text("draw a cat")
    page.locator("#instruction textarea").fill("draw a sleepy cat")
    page.locator("#edit-plan").click()
    status_is(page, "plan edited")
    expect(page.locator("#timeline")).to_contain_text("edited by you")

    page.locator("#step").click()
    status_is(page, "paused after sketch")
    page.locator("#reject-note textarea").fill("too dark")
    page.locator("#reject").click()
    status_is(page, "rejected and redrawn")

    page.locator("#step").click()
    status_is(page, "paused after inspect")
    expect(page.locator("#timeline")).to_contain_text("FAIL")
    page.screenshot(path=str(ARTIFACTS / "browser-1-inspect.png"), full_page=True)
    page.locator("#sketch-pass input").check()
    page.locator("#sketch-critique textarea").fill("The cat is there; I checked.")
    page.locator("#override").click()
    status_is(page, "verdict overridden")

    trajectory = store.load(session_id)
    kinds = [(s.stage, s.author, s.review) for s in trajectory.branch()]
    assert kinds[0] == (Stage.PLAN, Author.HUMAN, None)
    assert kinds[2][0] is Stage.INSPECT and kinds[2][1] is Author.HUMAN and trajectory.head().passed
    assert any(s.review is Review.REJECTED for s in trajectory.steps.values())

    choose(page, "step-choice", "1. plan")
    page.locator("#fork").click()
    status_is(page, "rewound")
    page.locator("#step").click()
    status_is(page, "paused after sketch")
    assert len([s for s in store.load(session_id).leaves() if s.review is not Review.REJECTED]) == 2
    page.screenshot(path=str(ARTIFACTS / "browser-2-forked.png"), full_page=True)

    page.reload(wait_until="load")
    page.locator("#new").wait_for()
    page.get_by_role("tab", name="Sessions").click()
    page.locator("#search textarea, #search input").first.fill("cat and a dog")
    page.locator("#refresh").click()
    expect(page.locator("#session-table")).to_contain_text(session_id[:8])
    page.locator("#chosen-session textarea, #chosen-session input").first.fill(session_id)
    page.locator("#open").click()
    page.get_by_role("tab", name="Studio").click()
    status_is(page, "opened")
    expect(page.locator("#timeline")).to_contain_text("draw a sleepy cat")
    page.screenshot(path=str(ARTIFACTS / "browser-3-reopened.png"), full_page=True)
