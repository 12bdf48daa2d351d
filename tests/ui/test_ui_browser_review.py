"""What a person sees when things go wrong or get small, in Debian's Chromium at 1440×900 (Playwright).

Text typed into the panel survives a stale tab's conflict, and the panel says when its step left the
board; links with a short step id; the open session's own settings; export of every session or
branch, and a failed export that says so instead of leaving the old link; a final downloaded under
its title; badges and reasons that fit their cards; boxes coloured by their own finding; the names
on a final; the live preview, progress and Stop against a slow engine; a session made private
leaving the other person's page. Engines are the scripted fakes of tests/kits/fakes.py, standing in
for a model; screenshots land in test-artifacts/.
"""

from __future__ import annotations

import re

import pytest

from studio import engines
from studio.core.accounts import Accounts, add_user
from studio.core.domain import Box, Check, RunSettings, Stage
from studio.core.people import Person
from studio.engines.base import InspectResult, RefineResult, UsedInput
from studio.runner import Runner
from studio.ui.actions import Studio

from ..kits.fakes import ScriptedEngine
from ..kits.ui_server import running_studio
from .test_ui_browser import ARGS, ARTIFACTS, CHROMIUM, UNSEEN, new_session, status_is, step

ENGINE = "ui-review-scripted"
BOXED = "ui-review-boxes"
SLOW = "ui-review-slow"
NOTES = "ui-review-notes"
VIEWPORT = {"width": 1440, "height": 900}


class BoxedVerdicts(ScriptedEngine):
    """Stands in for a model whose failed verdict points at objects: one box shows the problem (its
    label says what is wrong after ': '), the other an object found as planned."""

    def inspect(self, ctx):
        result = super().inspect(ctx)
        boxes = (
            Box(2, 2, 14, 14, "green teapot: should be left of the red cup"),
            Box(18, 18, 30, 30, "red cup"),
        )
        sketch = Check(False, "In the sketch the green teapot is not left of the red cup.", boxes)
        return InspectResult(result.plan_check, sketch)


class AnswersNotes(ScriptedEngine):
    """Stands in for a model that answers a person's note: a redraw says it minded the reason, a refine
    of an overridden verdict says (in its own <refine> text too) that it could not use the critique and
    returns the image unchanged, and a refine asked to "crash" fails as an engine bug would. Its failed
    verdict on the 32-pixel sketch points at four objects close together, one label a long sentence at
    the right edge."""

    def sketch(self, ctx):
        drawn = super().sketch(ctx)
        if ctx.person is not None and ctx.person.kind == "reason":
            drawn.used_input = UsedInput(True, f"drew it again minding {ctx.person.text!r}")
        return drawn

    def inspect(self, ctx):
        result = super().inspect(ctx)
        boxes = (
            Box(1, 1, 9, 9, "red cup"),
            Box(3, 4, 11, 12, "blue cup"),
            Box(5, 7, 13, 15, "green cup"),
            Box(24, 2, 31, 10, "the teapot should stand to the left of all three cups"),
        )
        return InspectResult(result.plan_check, Check(False, "The teapot is not left.", boxes))

    def refine(self, ctx, instruction, region):
        if instruction and "crash" in instruction:
            raise RuntimeError("an engine bug")
        if ctx.person is not None and ctx.person.kind == "verdict":
            why = f"{ctx.person.text!r}: no change to make could be read from it"
            return RefineResult(
                f"Could not use your note: {why}.",
                ctx.current_image(),
                used_input=UsedInput(False, why),
            )
        return super().refine(ctx, instruction, region)


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    engines.register(ENGINE, lambda: ScriptedEngine(fail_rounds=(1,)))
    engines.register(BOXED, lambda: BoxedVerdicts())
    engines.register(NOTES, lambda: AnswersNotes())
    # a sketch takes four seconds in four previewed strokes: a GPU model's pace, where a person can
    # watch the preview and the progress bar, and press Stop
    engines.register(SLOW, lambda: ScriptedEngine(delay=4.0))
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()
    for name in (ENGINE, BOXED, SLOW, NOTES):
        engines.unregister(name)


@pytest.fixture(scope="module")
def studio(chromium, tmp_path_factory):
    with running_studio(tmp_path_factory.mktemp("ui-review"), ENGINE) as (url, store):
        yield chromium, store, url


def page_of(browser, url):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(url, wait_until="load")
    page.locator("#sb-new").wait_for()
    return page


def inside(page, selector: str) -> bool:
    """The element is wholly inside the viewport."""
    box = page.locator(selector).bounding_box()
    return (
        bool(box)
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= 1440
        and (box["y"] + box["height"] <= 900)
    )


def test_typed_text_survives_a_stale_tab_and_links_settings_and_export_say_what_they_did(studio):
    from playwright.sync_api import expect

    browser, store, url = studio
    first = page_of(browser, url)
    first.locator("#sb-rounds").fill("4")
    sid = new_session(first, "a clock and a lamp", ENGINE)
    step(first, "paused after plan")
    step(first, "paused after sketch")
    second = page_of(browser, first.url)
    status_is(second, "opened")

    # A reject reason typed here while the other tab moves on: refused, and the reason stays typed.
    first.locator("#sb-panel [data-f=reason]").fill("too dark")
    step(second, "paused after inspect")
    first.locator("#sb-panel [data-do=reject]").click()
    expect(first.locator("#sb-toast")).to_contain_text("another tab")
    expect(first.locator("#sb-panel [data-f=reason]")).to_have_value("too dark")
    # The same for a refine instruction.
    first.locator("#sb-panel [data-f=refine]").fill("make the lamp brighter")
    step(second, "paused after refine")
    first.locator("#sb-panel [data-do=refine]").click()
    expect(first.locator("#sb-toast")).to_contain_text("another tab")
    expect(first.locator("#sb-panel [data-f=refine]")).to_have_value("make the lamp brighter")
    expect(first.locator("#sb-panel [data-f=reason]")).to_have_value("too dark")
    assert [s.review for s in store.load(sid).steps.values()] == [None] * 4  # nothing was acted on

    # The other tab rewinds to the plan and draws again: the step selected here left the board.
    trajectory = store.load(sid)
    plan, sketch = trajectory.branch()[:2]
    second.locator(f"#sb-board .sb-card[data-id='{plan.id}']").click()
    second.locator("#sb-panel [data-do=fork]").click()
    status_is(second, "rewound")
    step(second, "paused after sketch")
    first.locator(f"#sb-board .sb-card[data-id='{sketch.id}']").click()
    first.locator("#sb-panel [data-do=accept]").click()
    expect(first.locator("#sb-toast")).to_contain_text("another tab")
    expect(first.locator("#sb-off-branch")).to_contain_text(
        "not on the branch the storyboard shows"
    )
    assert inside(first, "#sb-off-branch")
    first.screenshot(path=str(ARTIFACTS / "review-1-off-branch.png"))
    first.locator("#sb-off-branch button").click()
    expect(first.locator(f"#sb-board .sb-card.sel[data-id='{sketch.id}']")).to_have_count(1)
    expect(first.locator("#sb-off-branch")).to_have_count(0)
    expect(first.locator("#sb-panel [data-f=reason]")).to_have_value("too dark")
    second.close()

    # The panel's text goes once the server did it: the reject lands, and its reason is not left over.
    first.locator("#sb-panel [data-do=reject]").click()
    status_is(first, "rejected and redrawn")
    assert store.load(sid).steps[sketch.id].review_note == "too dark"
    first.locator(f"#sb-board .sb-card[data-id='{sketch.id}']").click()
    expect(first.locator("#sb-panel [data-f=reason]")).to_have_value("")

    # A link with a short step id opens that step; the open session's rounds are in the Rounds field.
    first.locator("#sb-rounds").fill("9")
    first.goto(f"{url}?session={sid}&step={plan.id[:8]}", wait_until="load")
    status_is(first, "^opened")
    expect(first.locator(f"#sb-board .sb-card.sel[data-id='{plan.id}']")).to_have_count(1)
    expect(first.locator("#sb-rounds")).to_have_value("4")
    first.goto(f"{url}?session={sid}&step=0000dead", wait_until="load")
    status_is(
        first, "has no step '0000dead', so the latest step is shown: pick another on the storyboard"
    )

    # A person's override off the head branch: the export offers every branch, on by default.
    studio_ = Studio(Runner(store))
    head = store.load(sid)
    verdict = next(s for s in head.steps.values() if s.stage is Stage.INSPECT)
    view = studio_.override(
        sid, head.session.version, verdict.id, True, "ok", True, "I see the lamp."
    )
    studio_.switch_branch(sid, view.session["version"], head.head().id)
    first.reload(wait_until="load")
    status_is(first, "^opened")
    first.locator(".sb-tab[data-view=sessions]").click()
    expect(first.locator("#sb-all-branches")).to_be_checked()
    expect(first.locator("#sb-branches-why")).to_contain_text("off the head branch")
    first.locator("input[name=sb-scope][value='all sessions']").check()
    first.locator("#sb-export").click()
    report = first.locator("#sb-export-report")
    expect(report).to_contain_text(re.compile(r"exported \d+ files .* as folder, every branch"))
    expect(report.locator("a")).to_have_text("download the zip")
    # A failed export clears the last one's link and says what failed.
    store.delete_session(sid)
    first.locator("input[name=sb-scope][value='this session']").check()
    first.locator("#sb-export").click()
    expect(report).to_contain_text(
        f"Export failed: No session {sid[:8]} is available to you any more"
    )
    expect(report.locator("a")).to_have_count(0)
    assert inside(first, "#sb-export-report")
    first.screenshot(path=str(ARTIFACTS / "review-2-export-failed.png"))
    first.close()


def test_what_a_person_reads_fits_and_says_what_it_means(studio, tmp_path):
    from playwright.sync_api import expect

    browser, store, url = studio
    page = page_of(browser, url)
    sid = new_session(page, "a teapot and a cup", BOXED)
    step(page, "paused after plan")
    step(page, "paused after sketch")
    page.locator("#sb-panel [data-f=reason]").fill("the handle is missing")
    page.locator("#sb-panel [data-do=reject]").click()
    status_is(page, "rejected and redrawn")
    page.locator("body").press("a")  # accept the redraw
    status_is(page, "accepted")
    step(page, "paused after inspect")

    # Badges are whole words inside their cards; a rejected sketch's reason is in its row.
    rejected = page.locator("#sb-board .sb-card.rejected")
    expect(rejected).to_contain_text("the handle is missing")
    for badge in page.locator("#sb-board .sb-badge").all():
        fits = badge.evaluate("b => b.scrollWidth <= b.clientWidth + 1")
        card = badge.evaluate(
            "b => { const c = b.closest('.sb-card').getBoundingClientRect(), "
            "r = b.getBoundingClientRect(); return r.left >= c.left && r.right <= c.right + 0.5; }"
        )
        assert fits and card, badge.inner_text()
    expect(
        page.locator("#sb-board .sb-badge", has_text=re.compile("^rejected$", re.I))
    ).to_have_count(1)
    expect(
        page.locator("#sb-board .sb-badge", has_text=re.compile("^accepted$", re.I))
    ).to_have_count(1)

    # The failed verdict's boxes: red where that object is wrong, green where it is right, as sentences.
    rects = page.locator("#sb-evidence rect")
    expect(rects).to_have_count(2)
    assert [r.get_attribute("stroke") for r in rects.all()] == ["#c62828", "#15803d"]
    expect(page.locator("#sb-evidence text").first).to_have_text(
        "The green teapot should be left of the red cup."
    )
    page.screenshot(path=str(ARTIFACTS / "review-3-evidence.png"))

    # "New session" stays readable on hover: dark background under its white text.
    page.locator("#sb-new").hover()
    colour = page.locator("#sb-new").evaluate("b => getComputedStyle(b).backgroundColor")
    assert colour == "rgb(67, 56, 202)", colour

    # A plain PNG says what to drop instead; the toast leaves the gallery bars uncovered.
    page.locator(".sb-tab[data-view=sessions]").click()
    plain = tmp_path / "plain.png"
    from PIL import Image

    Image.new("RGB", (8, 8), "white").save(plain)
    page.locator("#sb-png").set_input_files(str(plain))
    toast = page.locator("#sb-toast")
    expect(toast).to_contain_text("drop a session's final image instead")
    assert "studio import" not in toast.inner_text()  # no command line for a browser user
    t = toast.bounding_box()
    for bar in page.locator(".sb-sessions .sb-gallery-bar").all():
        b = bar.bounding_box()
        overlap = not (
            t["x"] + t["width"] <= b["x"]
            or b["x"] + b["width"] <= t["x"]
            or t["y"] + t["height"] <= b["y"]
            or b["y"] + b["height"] <= t["y"]
        )
        assert not overlap, (t, b)
    assert inside(page, "#sb-toast")
    page.screenshot(path=str(ARTIFACTS / "review-4-toast.png"))
    page.locator(".sb-tab[data-view=studio]").click()

    # A finished offline session: the final names everything it shows, and downloads under its title.
    sid = new_session(
        page, "a red apple and a blue cup", "offline", seed="7", params='{"draft_noise": 0}'
    )
    Runner(store).rename(store.load(sid), "Apple & cup study")
    page.reload(wait_until="load")
    status_is(page, "^opened")
    # The redraw after a reject says what it did with the reason; a refine that changed nothing says so.
    step(page, "paused after plan")
    step(page, "paused after sketch")
    page.locator("#sb-panel [data-f=reason]").fill("the apple should be green")
    page.locator("#sb-panel [data-do=reject]").click()
    status_is(page, "rejected and redrawn")
    redraw = page.locator(f"#sb-board .sb-card[data-id='{store.load(sid).head().id}']")
    expect(redraw).to_contain_text("used your note: recoloured the apple green")
    page.locator("#sb-panel [data-f=refine]").fill("make the apple green")
    page.locator("#sb-panel [data-do=refine]").click()
    status_is(page, "the refine changed no pixel")
    same = page.locator(f"#sb-board .sb-card[data-id='{store.load(sid).head().id}']")
    expect(same).to_contain_text("no change: the refine returned the same image")
    assert same.evaluate("c => c.scrollWidth <= c.clientWidth + 1")
    page.screenshot(path=str(ARTIFACTS / "review-5a-your-note.png"))
    page.locator("#sb-run").click()
    status_is(page, "finished")
    final = store.load(sid).head()
    assert final.stage is Stage.FINAL
    page.locator(f"#sb-board .sb-card[data-id='{final.id}']").click()
    page.locator("body").press("n")
    names = page.locator("#sb-evidence text")
    expect(names.filter(has_text="apple")).to_have_count(1)  # green now: the note asked
    expect(names.filter(has_text="blue cup")).to_have_count(1)
    with page.expect_download() as download:
        page.locator("#sb-panel a", has_text="Download PNG").click()
    assert download.value.suggested_filename == "apple-cup-study.png"
    page.screenshot(path=str(ARTIFACTS / "review-5-final-names.png"))
    page.close()


def test_a_slow_engine_shows_its_preview_and_progress_and_stop_keeps_what_was_done(studio):
    from playwright.sync_api import expect

    browser, store, url = studio
    page = page_of(browser, url)
    sid = new_session(page, "a slow cat", SLOW)
    step(page, "paused after plan")
    page.locator("#sb-step").click()
    preview, bar = page.locator("#sb-preview"), page.locator("#sb-progress .sb-bar")
    expect(preview).to_be_visible()
    assert preview.evaluate("i => i.complete && i.naturalWidth") > 0 and inside(page, "#sb-preview")
    expect(page.locator("#sb-progress .sb-bar-label")).to_have_text(re.compile(r"stroke [12]"))
    early = bar.evaluate("b => b.getBoundingClientRect().width")
    expect(page.locator("#sb-progress .sb-bar-label")).to_have_text(
        re.compile(r"stroke [34]"), timeout=10_000
    )
    later = bar.evaluate("b => b.getBoundingClientRect().width")
    assert 0 < early < later  # the bar grows as the strokes come
    assert inside(page, "#sb-progress") and inside(page, "#sb-stop")
    page.screenshot(path=str(ARTIFACTS / "review-6-slow-preview.png"))
    page.locator("#sb-stop").click()
    status_is(page, "stopped: the stage in flight was dropped; 1 committed steps kept")
    expect(preview).to_be_hidden()
    expect(page.locator("#sb-progress")).to_be_hidden()
    assert [s.stage for s in store.load(sid).branch()] == [Stage.PLAN]
    page.close()


def test_a_session_made_private_leaves_the_other_persons_page_with_words_for_a_browser(
    chromium, tmp_path
):
    from playwright.sync_api import expect

    users = tmp_path / "users.toml"
    add_user(users, "ana", "ana-password-1")
    add_user(users, "ben", "ben-password-2")
    with running_studio(tmp_path / "data", ENGINE, Accounts.load(users)) as (url, store):
        runner = Runner(store)
        shared = runner.new_session(
            "ana's shared cat", engine=ENGINE, owner=Person("ana", "annotator")
        )
        runner.share(shared, True, by=Person("ana", "annotator"))
        context = chromium.new_context(viewport=VIEWPORT, http_credentials=None)
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.goto(url, wait_until="load")
        page.locator("input[type=text], input:not([type])").first.fill("ben")
        page.locator("input[type=password]").fill("ben-password-2")
        page.get_by_role("button", name=re.compile("login", re.I)).click()
        page.locator("#sb-new").wait_for()
        page.goto(f"{url}?session={shared.session.id}", wait_until="load")
        expect(page.locator("#sb-title")).to_have_text("ana's shared cat")
        runner.share(store.load(shared.session.id), False, by=Person("ana", "annotator"))
        page.locator("#sb-step").click()
        expect(page.locator("#sb-toast")).to_contain_text("is available to you any more")
        expect(page.locator("#sb-toast")).to_contain_text("Open another one under Sessions")
        assert "studio sessions" not in page.locator("#sb-toast").inner_text()
        expect(page.locator("#sb-title")).to_have_text("No session open")
        expect(page.locator("#sb-board .sb-card")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "review-7-unshared.png"))
        context.close()


OVERLAPS = """svg => {
  const r = svg.getBoundingClientRect(), out = [];
  const labels = Array.from(svg.querySelectorAll('text')).map((t) => [t.textContent, t.getBoundingClientRect()]);
  for (const [text, b] of labels) {
    if (b.height > 40) out.push('too large: ' + text + ' ' + b.height);
    if (b.left < r.left - 1 || b.right > r.right + 1 || b.top < r.top - 1 || b.bottom > r.bottom + 1)
      out.push('outside the image: ' + text);
  }
  labels.forEach(([a, p], i) => labels.slice(i + 1).forEach(([b, q]) => {
    if (p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom) out.push(a + ' over ' + b);
  }));
  return out;
}"""


def test_labels_notes_failures_and_links_read_right_at_1440x900(studio):
    """What the colleagues' pass left: the evidence labels of a small image at the page's text size,
    whole inside the image and never over one another; the settings of the session opened; a redraw's
    status and a refine's card saying what was done with the person's note once, with every field and
    action of the step in view; a failed engine call leaving no "running: …" behind; Download PNG a
    button; and a wrong link answered in a browser's words."""
    from playwright.sync_api import expect

    browser, store, url = studio
    runner = Runner(store)
    other = runner.new_session(
        "a lamp", engine="offline", settings=RunSettings(engine_params={"draft_noise": 0})
    )
    page = page_of(browser, f"{url}?session={other.session.id}")
    status_is(page, "^opened")
    # The left column shows the open session's own engine and parameters (New session takes them).
    expect(page.locator("#sb-engine")).to_have_value("offline")
    expect(page.locator("#sb-params")).to_have_value('{"draft_noise":0}')

    page.locator("#sb-params").fill("{}")
    sid = new_session(page, "a cup and a teapot", NOTES)
    step(page, "paused after plan")
    step(page, "paused after sketch")
    page.locator("#sb-panel [data-f=reason]").fill("the cup is too pale")
    page.locator("#sb-panel [data-do=reject]").click()
    status_is(page, "rejected and redrawn: used your reason")
    step(page, "paused after inspect")

    # Four labels on a 32-pixel sketch shown ~500 pixels wide: text-sized, inside, apart.
    page.locator(f"#sb-board .sb-card[data-id='{store.load(sid).head().id}']").click()
    expect(page.locator("#sb-evidence text")).to_have_count(4)
    assert page.locator("#sb-evidence").evaluate(OVERLAPS) == []
    page.screenshot(path=str(ARTIFACTS / "review-8-small-labels.png"))

    # An overridden verdict the engine could not use: the refine's card says so once, in view.
    page.locator("#sb-panel [data-f=sketch_check_crit]").fill("it feels crowded somehow")
    page.locator("#sb-panel [data-do=override]").click()
    status_is(page, "overridden")
    step(page, "paused after refine")
    refine = page.locator(f"#sb-board .sb-card[data-id='{store.load(sid).head().id}']")
    expect(refine).to_contain_text("could not use your note: 'it feels crowded somehow'")
    assert refine.inner_text().lower().count("could not use your note") == 1
    expect(page.locator("#sb-panel")).to_contain_text(
        "no change: the refine returned the same image"
    )
    assert page.locator("#sb-panel").inner_text().lower().count("could not use your note") == 1
    assert page.evaluate(UNSEEN) == []
    expect(page.locator("#sb-board .sb-rowlabel").last).to_contain_text("no round")
    page.screenshot(path=str(ARTIFACTS / "review-9-note-not-used.png"))

    # An engine that fails mid-refine: the status says what happened, not "running: …" for ever.
    page.locator("#sb-panel [data-f=refine]").fill("crash, please")
    page.locator("#sb-panel [data-do=refine]").click()
    expect(page.locator("#sb-toast")).to_contain_text("Something went wrong")
    expect(page.locator("#sb-status")).to_have_text(re.compile(r"^Something went wrong.* steps"))
    expect(page.locator("#sb-step")).to_be_enabled()
    expect(page.locator("#sb-panel [data-f=refine]")).to_have_value("crash, please")

    # Download PNG looks like the buttons beside it.
    page.locator("#sb-run").click()
    status_is(page, "^finished")
    page.locator("#sb-board .sb-card[data-stage=final]").click()
    look = "e => { const s = getComputedStyle(e); return [s.borderTopWidth, s.borderTopStyle, s.paddingLeft]; }"
    download = page.locator("#sb-panel a", has_text="Download PNG")
    assert download.evaluate(look) == page.locator("#sb-panel [data-do=accept]").evaluate(look)
    heights = [
        e.bounding_box()["height"] for e in (download, page.locator("#sb-panel [data-do=accept]"))
    ]
    assert abs(heights[0] - heights[1]) <= 2, heights

    # A link to no session: a browser's words, never a command to run.
    for link, said in (
        ("zz-top", "is not a session id"),
        ("abcdef12", "No single session 'abcdef12'"),
    ):
        page.goto(f"{url}?session={link}", wait_until="load")
        expect(page.locator("#sb-toast")).to_contain_text(said)
        expect(page.locator("#sb-toast")).to_contain_text("open one under Sessions")
        assert "studio " not in page.locator("#sb-toast").inner_text()
    page.close()
