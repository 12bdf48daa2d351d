"""A person's sessions in a real browser: Debian's Chromium at 1440×900, driven by Playwright.

Covers what a person touches on the storyboard page: type a prompt, step, edit a plan,
reject a sketch, override an *older* verdict (and prove exactly that one changed), switch
branches through the tree, reload from the URL, a second tab's conflict keeping typed
text, an error that blanks nothing, region refine changing only the region, and
rename/delete on the selected gallery card. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from PIL import ImageChops

from studio import engines
from studio.core.domain import Author, Review, Stage
from studio.runner import Runner

from ..kits.fakes import ScriptedEngine
from ..kits.ui_server import running_studio

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
]
ENGINE = "ui-browser-scripted"
SLOW = "ui-browser-slow"

if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(
        "Chromium is not installed (apt-get install -y chromium); CI installs it",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def browser_and_studio(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    engines.register(ENGINE, lambda: ScriptedEngine(fail_rounds=(1,)))
    engines.register(
        SLOW, lambda: ScriptedEngine(delay=3.0)
    )  # three seconds a sketch, a preview each stroke
    ARTIFACTS.mkdir(exist_ok=True)
    with (
        running_studio(tmp_path_factory.mktemp("ui-browser"), ENGINE) as (url, store),
        sync_playwright() as p,
        tempfile.TemporaryDirectory() as profile,
    ):
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1440, "height": 900},
        )
        context.set_default_timeout(20_000)
        yield context, store, url
        context.close()
    engines.unregister(ENGINE)
    engines.unregister(SLOW)


def open_page(context, url):
    page = context.new_page()
    page.goto(url, wait_until="load")
    page.locator("#sb-new").wait_for()
    return page


def status_is(page, pattern: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#sb-status")).to_have_text(
        re.compile(pattern), timeout=30_000
    )  # a model may load first


def new_session(page, prompt: str, engine: str = ENGINE, seed: str = "", params: str = "") -> str:
    page.locator("#sb-prompt").fill(prompt)
    page.locator("#sb-engine").select_option(engine)
    page.locator("#sb-seed").fill(seed)  # empty: a random seed, the page's default
    if params:
        page.locator(".sb-params summary").click()
        page.locator("#sb-params").fill(params)
    before = page.url
    page.locator("#sb-new").click()
    page.wait_for_url(lambda url: "session=" in url and url != before)
    status_is(page, "ready")
    return re.search(r"session=([0-9a-f]+)", page.url).group(1)


def step(page, expected: str) -> None:
    page.locator("#sb-step").click()
    status_is(page, expected)


def test_a_person_steers_a_session_on_the_storyboard(browser_and_studio):
    from playwright.sync_api import expect

    context, store, url = browser_and_studio
    page = open_page(context, url)
    sid = new_session(page, "a cat and a dog")

    step(page, "paused after plan")
    expect(page.locator("#sb-board .sb-card[data-stage=plan]")).to_contain_text("draw a cat")
    # a plan not drawn yet says so, not "Select a card"
    expect(page.locator("#sb-canvas-empty")).to_have_text(re.compile("^No image yet"))
    page.locator("#sb-panel [data-f=instruction]").fill("draw a sleepy cat")
    page.locator("#sb-panel [data-do=edit]").click()
    status_is(page, "plan edited")
    expect(page.locator("#sb-board .sb-card.human")).to_contain_text("draw a sleepy cat")

    step(page, "paused after sketch")
    page.locator("#sb-panel [data-f=reason]").fill("too dark")
    page.locator("#sb-panel [data-do=reject]").click()
    status_is(page, "rejected and redrawn")
    expect(page.locator("#sb-board .sb-card.rejected")).to_have_count(1)
    expect(page.locator("#sb-panel [data-f=reason]")).to_have_value(
        ""
    )  # the reason does not follow to the redraw

    step(page, "paused after inspect")  # round 1's sketch fails
    step(page, "paused after refine")
    step(page, "paused after inspect")  # the refine passes
    page.screenshot(path=str(ARTIFACTS / "browser-1-storyboard.png"))

    # Select the OLDER verdict: the panel shows its own critique, and the override lands on it alone.
    trajectory = store.load(sid)
    old_verdict, new_verdict = [s for s in trajectory.branch() if s.stage is Stage.INSPECT]
    page.locator(f"#sb-board .sb-card[data-id='{old_verdict.id}']").click()
    expect(page.locator("#sb-panel [data-f=sketch_check_crit]")).to_have_value(
        "Something is missing."
    )
    expect(page.locator("#sb-image")).to_be_visible()
    page.locator("#sb-panel [data-f=sketch_check_pass]").check()
    page.locator("#sb-panel [data-f=sketch_check_crit]").fill("The cat is there; I checked.")
    page.locator("#sb-panel [data-do=override]").click()
    status_is(page, "verdict of round 1 overridden as a new branch")
    after = store.load(sid)
    changed = [s for s in after.steps.values() if s.id not in trajectory.steps]
    assert len(changed) == 1 and changed[0].parent_id == old_verdict.parent_id
    assert (
        changed[0].author is Author.HUMAN
        and changed[0].sketch_check.critique == "The cat is there; I checked."
    )
    assert all(
        after.steps[i] == s for i, s in trajectory.steps.items()
    )  # every other step is as it was
    assert after.steps[new_verdict.id].sketch_check.critique == new_verdict.sketch_check.critique

    # Two branches now; switch back to the first one through the tree.
    expect(page.locator("#sb-branch-count")).to_have_text("2 branches")
    page.locator(f"#sb-tree .node[data-id='{new_verdict.id}']").click()
    status_is(page, "switched to branch 1")
    assert store.load(sid).session.head_id == new_verdict.id
    page.screenshot(path=str(ARTIFACTS / "browser-2-tree.png"))

    # Compare the two branches: they share their only image, so what each did after they parted is listed.
    page.locator(".sb-tab[data-view=compare]").click()
    expect(page.locator("#sb-compare .sb-parted .head")).to_have_count(2)
    expect(page.locator("#sb-compare")).to_contain_text("The cat is there; I checked.")
    page.locator(".sb-tab[data-view=studio]").click()

    # Accept the refined image, then rewind to the first plan: both act on the card selected.
    refined = next(s for s in store.load(sid).branch() if s.stage is Stage.REFINE)
    page.locator(f"#sb-board .sb-card[data-id='{refined.id}']").click()
    page.locator("body").press("a")  # the keyboard shortcut for Accept
    status_is(page, "accepted the refine of round")
    assert store.load(sid).steps[refined.id].review is Review.ACCEPTED
    first_plan = store.load(sid).branch()[0]
    page.locator(f"#sb-board .sb-card[data-id='{first_plan.id}']").click()
    page.locator("#sb-panel [data-do=fork]").click()
    status_is(page, "rewound to the plan of round 1")
    assert store.load(sid).session.head_id == first_plan.id

    # Back/forward walk the selections; each is in the URL.
    page.locator(f"#sb-board .sb-card[data-id='{first_plan.id}']").click()
    assert f"step={first_plan.id}" in page.url

    # Reload: the URL brings the same session and step back.
    assert f"session={sid}" in page.url
    page.reload(wait_until="load")
    status_is(page, "opened")
    expect(page.locator("#sb-board .sb-card")).to_have_count(len(store.load(sid).branch()))
    expect(page.locator(f"#sb-board .sb-card.sel[data-id='{first_plan.id}']")).to_have_count(1)

    # An error is one toast; nothing is blanked.
    cards = page.locator("#sb-board .sb-card").count()
    page.locator("#sb-rounds").fill("0")
    page.locator("#sb-new").click()
    expect(page.locator("#sb-toast")).to_contain_text(
        "number of rounds is 0; it must be between 1 and 50"
    )
    assert (
        page.locator("#sb-board .sb-card").count() == cards
        and page.locator("#sb-prompt").input_value()
    )
    page.locator("#sb-rounds").fill("6")
    page.locator("#sb-prompt").fill("x" * 4001)
    expect(page.locator("#sb-count")).to_have_class(re.compile("over"))
    expect(page.locator("#sb-new")).to_be_disabled()
    page.close()


def test_a_second_tab_conflict_keeps_the_text_you_typed(browser_and_studio):
    from playwright.sync_api import expect

    context, store, url = browser_and_studio
    first = open_page(context, url)
    sid = new_session(first, "a clock and a lamp")
    step(first, "paused after plan")
    second = open_page(context, first.url)
    status_is(second, "opened")
    first.locator("#sb-panel [data-f=instruction]").fill("draw an old wall clock")
    step(second, "paused after sketch")  # the other tab moves on
    first.locator("#sb-panel [data-do=edit]").click()
    expect(first.locator("#sb-toast")).to_contain_text("another tab")
    expect(first.locator("#sb-panel [data-f=instruction]")).to_have_value("draw an old wall clock")
    expect(first.locator("#sb-board .sb-card[data-stage=sketch]")).to_have_count(
        1
    )  # the fresh view arrived
    assert store.load(sid).branch()[0].instruction == "draw a clock"
    first.close()
    second.close()


def test_region_refine_on_the_canvas_changes_only_the_painted_region(browser_and_studio):
    from playwright.sync_api import expect

    context, store, url = browser_and_studio
    page = open_page(context, url)
    # the offline engine makes seeded draft mistakes (a red apple drawn orange one time in five);
    # this test is about the overlay and the region, so it asks for a clean draft, as a user can
    sid = new_session(page, "a red apple", "offline", seed="7", params='{"draft_noise": 0}')
    session = store.load(sid).session
    assert (session.seed, session.settings.engine_params) == (7, {"draft_noise": 0})
    step(page, "paused after plan")
    step(page, "paused after sketch")
    sketch = store.load(sid).head()
    expect(page.locator("#sb-evidence text")).to_have_count(
        0
    )  # no names in or over the image by default
    page.locator("#sb-labels").check()  # the optional overlay: what the engine says it drew
    expect(page.locator("#sb-evidence text").first).to_have_text("red apple", timeout=20_000)
    box = page.locator("#sb-paint").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6, steps=8)
    page.mouse.up()
    page.locator("#sb-panel [data-f=refine]").fill("make the apple green")
    page.screenshot(path=str(ARTIFACTS / "browser-3-region.png"))
    page.locator("#sb-panel [data-do=refine]").click()
    status_is(page, "refined inside the painted region|changed no pixel inside the painted region")
    refined = store.load(sid).head()
    assert refined.stage is Stage.REFINE and refined.region is not None
    mask = store.load_image(refined.region.image).convert("L")
    before = store.load_image(sketch.image).convert("RGB")
    after = store.load_image(refined.image).convert("RGB")
    outside = ImageChops.multiply(
        ImageChops.difference(before, after).convert("L"), ImageChops.invert(mask)
    )
    assert outside.getbbox() is None  # not one pixel changed outside the painted region
    assert (
        mask.getbbox() is not None and mask.getbbox()[2] - mask.getbbox()[0] < mask.width
    )  # a region, not all
    page.close()


def test_the_gallery_renames_and_deletes_the_selected_card(browser_and_studio):
    from playwright.sync_api import expect

    context, store, url = browser_and_studio
    page = open_page(context, url)
    kept = new_session(page, "a vase of tulips")
    doomed = new_session(page, "a doomed teapot")  # now the open session
    from studio.batch.workqueue import WorkQueue

    WorkQueue(store.db, "vases").ensure({"prompts": "vases.txt"}, [])
    batch_only = (
        Runner(store)
        .new_session("a vase from a batch", engine=ENGINE, tags=("batch:vases",))
        .session.id
    )
    page.locator(".sb-tab[data-view=sessions]").click()
    page.locator("#sb-batch").select_option("vases")
    expect(page.locator(".sb-gcard")).to_have_count(1)
    expect(page.locator(f".sb-gcard[data-id='{batch_only}']")).to_have_count(1)
    page.locator("#sb-batch").select_option("")
    page.locator("#sb-search").fill("vase of")
    expect(page.locator(".sb-gcard")).to_have_count(1)
    page.locator(f".sb-gcard[data-id='{kept}']").click()
    page.locator("#sb-new-title").fill("Tulip study")
    page.locator("#sb-rename").click()
    expect(page.locator(f".sb-gcard[data-id='{kept}'] .t")).to_have_text("Tulip study")
    assert (
        store.load(kept).session.title == "Tulip study"
        and store.load(doomed).session.title == "a doomed teapot"
    )

    page.locator("#sb-search").fill("teapot")
    expect(page.locator(".sb-gcard")).to_have_count(1)
    page.locator(f".sb-gcard[data-id='{doomed}']").click()
    page.once(
        "dialog", lambda dialog: dialog.dismiss()
    )  # a first click asks, and "Cancel" keeps it
    page.locator("#sb-delete").click()
    assert store.list_sessions(search="teapot")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#sb-delete").click()
    expect(page.locator("#sb-gallery")).to_contain_text("No session matches")
    assert store.list_sessions(search="teapot") == [] and store.load(kept)
    page.locator(".sb-tab[data-view=studio]").click()
    expect(page.locator("#sb-title")).to_have_text(
        "No session open"
    )  # the deleted session is not left open

    page.locator(".sb-tab[data-view=sessions]").click()
    page.locator("#sb-search").fill("")
    page.locator(f".sb-gcard[data-id='{kept}']").dblclick()  # opens it
    expect(page.locator("#sb-title")).to_have_text("Tulip study")
    page.locator(".sb-tab[data-view=sessions]").click()
    page.locator("#sb-export").click()  # the open session, by default
    expect(page.locator("#sb-export-report")).to_contain_text(
        re.compile(r"exported \d+ files .* as folder")
    )
    expect(page.locator("#sb-export-report a")).to_have_text("download the zip")
    href = page.locator("#sb-export-report a").get_attribute(
        "href"
    )  # a URL by name, no server path
    assert href.startswith("/studio/export/") and str(store.data_dir) not in href
    assert page.request.get(url.rstrip("/") + href).body()[:2] == b"PK"
    page.screenshot(path=str(ARTIFACTS / "browser-4-gallery.png"))
    page.close()


def test_a_right_to_left_override_in_a_title_or_prompt_cannot_reverse_the_page_around_it(
    browser_and_studio,
):
    """People's text is isolated (<bdi>, or FSI…PDI in plain text): an unclosed U+202E inside it
    reverses only itself. Images arrive through the studio's route by hash, and load."""
    from playwright.sync_api import expect

    context, store, url = browser_and_studio
    page = open_page(context, url)
    rlo = "\u202e"
    session_id = new_session(page, f"a cat {rlo}and a dog")
    step(page, "paused after plan")
    step(page, "paused after sketch")
    image = page.locator("#sb-image")
    assert image.get_attribute("src").startswith("/studio/image/")
    assert image.evaluate("i => i.complete && i.naturalWidth") > 0  # the route served it
    assert page.locator("#sb-title").evaluate("e => getComputedStyle(e).unicodeBidi") == "isolate"
    page.locator(".sb-tab[data-view=sessions]").click()
    card = page.locator(f".sb-gcard[data-id='{session_id}']")
    expect(card.locator(".p bdi")).to_have_text(f"a cat {rlo}and a dog")
    card.click()
    page.locator("#sb-new-title").fill(f"{rlo}study")
    page.locator("#sb-rename").click()
    expect(card.locator(".t bdi")).to_have_text(f"{rlo}study")
    assert card.locator("img").evaluate("i => i.complete && i.naturalWidth") > 0  # the thumbnail
    expect(page.locator("#sb-toast")).to_contain_text(f"\u2068{rlo}study\u2069")  # the note too
    assert store.load(session_id).session.title == f"{rlo}study"
    page.close()


def test_while_a_sketch_is_drawn_the_preview_and_progress_show_and_the_buttons_say_what_is_possible(
    browser_and_studio,
):
    from playwright.sync_api import expect

    context, store, url = browser_and_studio
    page = open_page(context, url)
    page.locator("#sb-prompt").fill("a slow cat")
    page.locator("#sb-engine").select_option(SLOW)
    page.locator("#sb-new").click()
    status_is(page, "ready")
    page.locator("body").press("s")  # the keyboard shortcut for Step
    status_is(page, "paused after plan")
    page.locator("#sb-step").click()  # the sketch takes three seconds, previewing each stroke
    expect(page.locator("#sb-preview")).to_be_visible()
    expect(page.locator("#sb-progress")).to_be_visible()
    expect(page.locator("#sb-step")).to_be_disabled()
    expect(page.locator("#sb-stop")).to_be_enabled()
    page.screenshot(path=str(ARTIFACTS / "browser-5-drawing.png"))
    page.locator("#sb-stop").click()
    status_is(page, "stopped: the stage in flight was dropped; 1 committed steps kept")
    session_id = re.search(r"session=(\w+)", page.url).group(1)
    assert [s.stage for s in store.load(session_id).branch()] == [Stage.PLAN]
    expect(page.locator("#sb-preview")).to_be_hidden()
    page.locator("#sb-step").click()
    expect(page.locator("#sb-preview")).to_be_visible()
    status_is(page, "paused after sketch")
    expect(page.locator("#sb-preview")).to_be_hidden()
    expect(page.locator("#sb-progress")).to_be_hidden()
    expect(page.locator("#sb-stop")).to_be_disabled()
    expect(page.locator("#sb-step")).to_be_enabled()
    assert [s.stage for s in store.load(session_id).branch()] == [Stage.PLAN, Stage.SKETCH]
    page.close()


def branchy_session(runner: Runner) -> str:
    """An offline session with 12 branches: the first run to its end, a person's reject of the first
    sketch (run to its end too), a person's edit of the first plan, and nine rewinds to steps of the
    first run, each drawn a little further."""
    trajectory = runner.new_session(
        "two red apples under a blue cup and a black cat", "offline", seed=7
    )
    while runner.advance(trajectory) is not None:
        pass
    first = trajectory.branch()
    sketch = next(s for s in first if s.stage is Stage.SKETCH)
    runner.reject(trajectory, sketch.id, "the cup is too small")
    while runner.advance(trajectory) is not None:
        pass
    runner.edit_plan(trajectory, first[0].id, "Draw a big blue cup.")
    runner.advance(trajectory)
    for at in first[1:10]:
        runner.fork(trajectory, at.id)
        runner.advance(trajectory)
    return trajectory.session.id


# What a person cannot see or reach at 1440×900: elements outside the window, fields hidden in the panel's
# own scroll, a page that scrolls, text clipped by its box, a badge sticking out of its card.
UNSEEN = """() => {
  const out = [], H = innerHeight, W = innerWidth;
  const inside = (r, b) =>
    r.top >= b.top - 1 && r.bottom <= b.bottom + 1 && r.left >= b.left - 1 && r.right <= b.right + 1;
  const view = {top: 0, left: 0, bottom: H, right: W};
  const panel = document.querySelector('#sb-panel'), pr = panel.getBoundingClientRect();
  const canvas = document.querySelector('#sb-canvas').getBoundingClientRect();
  if (!inside(canvas, view) || canvas.width < 480 || canvas.height < 440) out.push('canvas ' + JSON.stringify(canvas));
  for (const el of panel.querySelectorAll('textarea, input, button, a')) {
    const r = el.getBoundingClientRect();
    if (!inside(r, view) || !inside(r, pr)) out.push('out of view: ' + el.outerHTML.slice(0, 70));
  }
  if (document.scrollingElement.scrollHeight > H + 1) out.push('the page scrolls');
  const board = document.querySelector('#sb-board');
  if (board.scrollWidth > board.clientWidth + 1) out.push('the board scrolls sideways');
  for (const card of document.querySelectorAll('#sb-board .sb-card')) {
    const cr = card.getBoundingClientRect();
    for (const el of card.querySelectorAll('.txt, .kind, .sb-badge, img')) {
      const clipped = el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1;
      if (clipped || !inside(el.getBoundingClientRect(), cr))
        out.push('clipped: ' + el.outerHTML.slice(0, 70));
    }
  }
  return out;
}"""


def test_at_1440x900_canvas_fields_actions_branches_and_comparisons_are_all_in_view(
    browser_and_studio,
):
    """The room to work: for every kind of step the canvas, the step's fields and its actions are in the
    window together, the storyboard clips no text, twelve branches are listed by what started them without
    overflowing, focusing the refine box moves nothing (a stroke painted after it lands under the pointer),
    and Compare shows two images of the same stage large side by side, judged from the keyboard."""
    from playwright.sync_api import expect

    context, store, url = browser_and_studio
    sid = branchy_session(Runner(store))
    trajectory = store.load(sid)
    page = open_page(context, f"{url}?session={sid}")
    status_is(page, "opened")

    tree = page.locator("#sb-tree")
    expect(page.locator("#sb-branch-count")).to_have_text("12 branches")
    expect(tree).to_contain_text(re.compile(r"you: reject R1 sketch"))
    expect(tree).to_contain_text("you: edit R1 plan")
    expect(tree).to_contain_text("rewind to R2 sketch")
    assert tree.evaluate(
        "t => [t.scrollWidth - t.clientWidth, t.scrollHeight - t.clientHeight]"
    ) == [0, 0]
    for label in tree.locator(".bl").all():
        assert label.evaluate("e => e.scrollWidth <= e.clientWidth")
    tree.locator(".node").first.click()  # the first run: every kind of step on one branch
    status_is(page, "switched to branch 1")

    first = store.load(sid).branch()
    stages = {s.stage: s for s in first}
    assert set(stages) == set(Stage)
    for stage in Stage:
        page.locator(f"#sb-board .sb-card[data-id='{stages[stage].id}']").click()
        expect(page.locator("#sb-panel h4")).to_contain_text(f"· {stage.value} ·")
        assert page.evaluate(UNSEEN) == [], stage
    rejected = page.locator("#sb-board .sb-card.rejected")
    expect(rejected).to_contain_text("rejected")  # the word, and the reason in the row
    expect(rejected).to_contain_text("the cup is too small")
    page.locator(f"#sb-board .sb-card[data-id='{stages[Stage.INSPECT].id}']").click()
    page.screenshot(path=str(ARTIFACTS / "browser-6-room-to-work.png"))

    # Compare: pairs of one stage each, large, side by side; ← / t / → judge and move on.
    page.locator(".sb-tab[data-view=compare]").click()
    page.locator("#sb-left").select_option(first[-1].id)
    reject_branch = [
        b for b in store.load(sid).leaves() if b.stage is Stage.FINAL and b.id != first[-1].id
    ]
    page.locator("#sb-right").select_option(reject_branch[0].id)
    expect(page.locator(".sb-prefer")).to_contain_text("Which final is better?")
    pairs = page.locator(".sb-pairs [data-pair]")
    for i in range(pairs.count()):
        pairs.nth(i).click()
        left, right = (
            store.load(sid).steps[page.locator(".sb-duel img").nth(k).get_attribute("data-id")]
            for k in (0, 1)
        )
        same_round = left.stage is Stage.FINAL or left.round == right.round
        assert left.stage is right.stage and same_round and left.image != right.image
        boxes = [page.locator(".sb-duel img").nth(k).bounding_box() for k in (0, 1)]
        assert all(
            b["width"] >= 500 and b["height"] >= 400 and b["y"] + b["height"] <= 900 for b in boxes
        )
        assert boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"]  # side by side
        expect(page.locator(".sb-duel .led").nth(0)).not_to_contain_text("no text before")
    pairs.first.click()  # the finals
    page.screenshot(path=str(ARTIFACTS / "browser-7-compare.png"))
    page.keyboard.press("ArrowRight")
    status_is(page, "recorded: right is better")
    page.keyboard.press("t")  # the next pair came up by itself
    status_is(page, "recorded: a tie")
    judged = store.judgements(sid, kind="preference")
    assert len(judged) == 2 and {store.load(sid).steps[j.step_id].stage for j in judged} >= {
        Stage.FINAL
    }
    assert all(
        store.load(sid).steps[j.step_id].stage is store.load(sid).steps[j.other_step_id].stage
        for j in judged
    )

    # Focus the refine box, then paint where the image was before it: the mask lands under the pointer.
    page.locator(".sb-tab[data-view=studio]").click()
    sketch = stages[Stage.REFINE]
    page.locator(f"#sb-board .sb-card[data-id='{sketch.id}']").click()
    before = page.locator("#sb-paint").bounding_box()
    page.locator("#sb-panel [data-f=refine]").click()
    page.keyboard.type("make the cup green")
    assert page.locator("#sb-paint").bounding_box() == before
    assert page.evaluate("document.scrollingElement.scrollTop") == 0
    x0, y0 = before["x"] + before["width"] * 0.3, before["y"] + before["height"] * 0.3
    x1, y1 = before["x"] + before["width"] * 0.6, before["y"] + before["height"] * 0.6
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=8)
    page.mouse.up()
    page.locator("#sb-panel [data-do=refine]").click()
    status_is(page, "refined inside the painted region|changed no pixel inside the painted region")
    refined = store.load(sid).head()
    mask = store.load_image(refined.region.image).convert("L")
    scale = mask.width / before["width"]
    radius = (
        28 / 2 * scale + 2
    )  # the brush's default size, in image pixels, and a pixel of rounding
    want = (
        0.3 * mask.width - radius,
        0.3 * mask.height - radius,
        0.6 * mask.width + radius,
        0.6 * mask.height + radius,
    )
    got = mask.getbbox()
    assert got is not None and all(abs(g - w) <= 3 * scale + 2 for g, w in zip(got, want)), (
        got,
        want,
    )
    assert len(trajectory.steps) < len(store.load(sid).steps)
    page.close()
