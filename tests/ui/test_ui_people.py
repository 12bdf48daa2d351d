"""Two people logged in through the real page (Chromium 1440×900, Playwright), and a third who is an admin.

Each sees only their own private sessions and the shared ones; every rating, preference and edit
is recorded with the name they logged in with; another person's private session is "not found" —
on the page, and to a direct HTTP call made with their login. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import re

import pytest

from studio import engines
from studio.core.accounts import Accounts, add_user
from studio.core.domain import Stage

from ..kits.fakes import ScriptedEngine
from ..kits.ui_server import running_studio
from .test_ui_browser import ARGS, ARTIFACTS, CHROMIUM, new_session, status_is, step

ENGINE = "ui-people-scripted"
PASSWORDS = {"ana": "ana-password-1", "ben": "ben-password-2", "root": "root-password-3"}


@pytest.fixture(scope="module")
def studio_with_logins(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    users = tmp_path_factory.mktemp("users") / "users.toml"
    for name, password in PASSWORDS.items():
        add_user(users, name, password, role="admin" if name == "root" else "annotator")
    engines.register(ENGINE, lambda: ScriptedEngine(fail_rounds=(1,)))
    ARTIFACTS.mkdir(exist_ok=True)
    with (
        running_studio(tmp_path_factory.mktemp("ui-people"), ENGINE, Accounts.load(users)) as (
            url,
            store,
        ),
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser, store, url
        browser.close()
    engines.unregister(ENGINE)


def log_in(browser, url: str, name: str):
    """A fresh browser profile logging in on Gradio's login form, as a person does."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(url, wait_until="load")
    page.locator("input[type=text], input:not([type])").first.fill(name)
    page.locator("input[type=password]").fill(PASSWORDS[name])
    page.get_by_role("button", name=re.compile("login", re.I)).click()
    page.locator("#sb-new").wait_for()
    return page


def test_two_people_each_see_their_own_work_and_are_named_as_its_authors(studio_with_logins):
    from gradio_client import Client
    from playwright.sync_api import expect

    browser, store, url = studio_with_logins
    ana = log_in(browser, url, "ana")
    expect(ana.locator("#sb-me")).to_have_text("ana · annotator")
    sid = new_session(ana, "a cat and a dog", ENGINE)
    expect(ana.locator("#sb-owner")).to_contain_text("private")
    step(ana, "paused after plan")
    ana.locator("#sb-panel [data-f=instruction]").fill("draw a sleepy cat")
    ana.locator("#sb-panel [data-do=edit]").click()
    status_is(ana, "plan edited")
    step(ana, "paused after sketch")
    ana.locator("#sb-panel [data-f=rating_note]").fill("the cat is too small")
    ana.locator("#sb-panel [data-rate='2']").click()
    status_is(ana, "rated the sketch of round 1: 2 of 5")
    expect(ana.locator("#sb-board .sb-card.sel .sb-badge.rate")).to_have_text("2/5")
    expect(ana.locator("#sb-panel .sb-fresh")).to_have_count(
        0
    )  # your own rating is not "changed elsewhere"
    expect(ana.locator("#sb-panel [data-rate='2']")).to_have_class(re.compile("on"))
    expect(ana.locator("#sb-board .sb-card[data-stage=plan] .sb-badge.you")).to_have_text("you")
    ana.screenshot(path=str(ARTIFACTS / "people-1-ana-rates.png"))

    trajectory = store.load(sid)
    assert trajectory.session.owner == "ana" and not trajectory.session.shared
    plan = next(s for s in trajectory.branch() if s.stage is Stage.PLAN)
    sketch = next(s for s in trajectory.branch() if s.stage is Stage.SKETCH)
    assert plan.annotator == "ana"
    [rating] = store.judgements(sid)
    assert (rating.kind, rating.step_id, rating.value, rating.note, rating.annotator) == (
        "rating",
        sketch.id,
        "2",
        "the cat is too small",
        "ana",
    )

    # ben logs in: ana's private session is not in his gallery, and her link says "not found".
    ben = log_in(browser, url, "ben")
    ben_sid = new_session(ben, "two red apples", ENGINE)
    ben.locator(".sb-tab[data-view=sessions]").click()
    expect(ben.locator(f".sb-gallery [data-id='{ben_sid}']")).to_have_count(1)
    expect(ben.locator(f".sb-gallery [data-id='{sid}']")).to_have_count(0)
    ben.goto(f"{url}?session={sid}", wait_until="load")
    expect(ben.locator("#sb-toast")).to_contain_text("No session")
    expect(ben.locator("#sb-board .sb-card")).to_have_count(0)
    ben.screenshot(path=str(ARTIFACTS / "people-2-ben-cannot-see.png"))

    # A direct HTTP call with ben's login is refused the same way; with ana's it works.
    as_ben = Client(url, auth=("ben", PASSWORDS["ben"]), verbose=False)
    with pytest.raises(Exception, match="No session"):
        as_ben.predict(sid, "", api_name="/open_session")
    with pytest.raises(Exception, match="No session"):
        as_ben.predict(sid, sketch.id, "up", "", api_name="/rate")
    with pytest.raises(Exception, match="No session"):
        as_ben.predict(sid, api_name="/stop")
    assert all(s["id"] != sid for s in as_ben.predict("", api_name="/list_sessions"))
    as_ana = Client(url, auth=("ana", PASSWORDS["ana"]), verbose=False)
    assert as_ana.predict(sid, "", api_name="/open_session")["session"]["owner"] == "ana"
    assert store.judgements(sid) == [rating]  # the refused calls wrote nothing

    # ana shares it: ben now sees it and rates the same sketch; both judgements are kept, each with its author.
    ana.locator("#sb-share").click()
    status_is(ana, "shared with the team")
    ben.locator(".sb-tab[data-view=sessions]").click()
    ben.locator("#sb-search").fill("cat")  # search as you type
    expect(ben.locator(f".sb-gallery [data-id='{sid}']")).to_contain_text("ana, shared")
    ben.locator("#sb-search").fill("")
    expect(ben.locator(f".sb-gallery [data-id='{ben_sid}']")).to_contain_text("yours, private")
    ben.screenshot(path=str(ARTIFACTS / "people-2b-ben-gallery.png"))
    ben.goto(f"{url}?session={sid}&step={sketch.id}", wait_until="load")
    status_is(ben, "opened")
    expect(ben.locator("#sb-owner")).to_contain_text("owner ana")
    expect(ben.locator("#sb-share")).to_have_count(0)  # only the owner (or an admin) shares
    expect(ben.locator("#sb-panel")).to_contain_text("ana: 2/5 — the cat is too small")
    ben.locator("#sb-panel [data-rate=up]").click()
    status_is(ben, "thumbs up")
    assert sorted((j.annotator, j.value) for j in store.judgements(sid)) == [
        ("ana", "2"),
        ("ben", "up"),
    ]
    ben.locator(
        "#sb-panel [data-rate=down]"
    ).click()  # ben changes his mind: his own rating is replaced
    status_is(ben, "thumbs down")
    assert sorted((j.annotator, j.value) for j in store.judgements(sid)) == [
        ("ana", "2"),
        ("ben", "down"),
    ]
    with pytest.raises(Exception, match="owner"):
        as_ben.predict(sid, api_name="/delete")
    assert store.has_session(sid)

    # ana runs to the end, rewinds to the sketch's plan and draws a second branch; Compare asks which is better.
    ana.reload(wait_until="load")
    status_is(ana, "opened")
    ana.locator("#sb-run").click()
    status_is(ana, "finished")
    ana.locator(f"#sb-board .sb-card[data-id='{plan.id}']").click()
    ana.locator("#sb-panel [data-do=fork]").click()
    status_is(ana, "rewound")
    ana.locator("#sb-run").click()
    status_is(ana, "finished")
    ana.locator(".sb-tab[data-view=compare]").click()
    prefer = ana.locator(".sb-prefer")
    expect(prefer).to_contain_text("Which final is better?")  # the finals come first
    prefer.locator("[data-prefer=right]").click()
    status_is(ana, "recorded: right is better")
    ana.locator(
        ".sb-pairs [data-pair]", has_text="final"
    ).click()  # the next pair came up; back to the finals
    expect(prefer.locator("[data-prefer=right]")).to_have_class(re.compile("on"))
    ana.screenshot(path=str(ARTIFACTS / "people-3-compare-prefers.png"))
    [preference] = store.judgements(sid, kind="preference")
    finals = [s for s in store.load(sid).steps.values() if s.stage is Stage.FINAL]
    assert preference.annotator == "ana" and {preference.step_id, preference.other_step_id} == {
        f.id for f in finals
    }
    assert store.load(sid).steps[preference.preferred_step_id].stage is Stage.FINAL

    # The admin sees everyone's sessions, private ones included.
    as_root = Client(url, auth=("root", PASSWORDS["root"]), verbose=False)
    listed = {s["id"] for s in as_root.predict("", api_name="/list_sessions")}
    assert {sid, ben_sid} <= listed
    for page in (ana, ben):
        page.context.close()
