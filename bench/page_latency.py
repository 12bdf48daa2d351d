"""Click → page updated, in Debian's Chromium at 1440×900, on the offline engine; and bytes per Step.

For sessions holding 3 and 30 steps (built through the Runner, then opened from their URL like a
shared link), it clicks and waits for what a person waits for:

- select a step: a verdict card clicked → the panel shows that verdict's own critique;
- Override: the verdict's Override button → the status says it was overridden;
- Accept: an image card selected, Accept → the status says accepted;
- Step: the Step button → the status says "paused after …" (a real offline stage runs in between).

Bytes are what the browser received (Chrome DevTools' Network.dataReceived) from the Step click to the
update, for that Step (it draws a sketch) and for the next Steps that commit a verdict and a plan (text
only: no image travels, so what they send is the view itself). Targets (docs/benchmarks.md): median ratio
30/3 ≤ 1.3; Step ≤ 1.0 s; select ≤ 0.3 s; bytes per Step at 30 ≤ 2× those at 3, for each kind of Step.

Usage: .venv/bin/python bench/page_latency.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from studio.core.domain import RunSettings, Stage  # noqa: E402
from studio.runner import Runner  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PROMPT = "two red apples under a blue cup and a black cat"


def build(runner: Runner, steps: int) -> str:
    """A session of at least `steps` steps whose head is a plan with a verdict before it (forks add branches).

    Both sizes then measure the same things: Step draws a sketch; the verdict and image before it are
    what select, Override and Accept act on.
    """
    trajectory = runner.new_session(PROMPT, "offline", seed=7, settings=RunSettings(max_rounds=16))
    while True:
        head = trajectory.head()
        if (
            len(trajectory.steps) >= steps
            and head is not None
            and head.stage is Stage.PLAN
            and any(s.stage is Stage.INSPECT for s in trajectory.branch())
        ):
            return trajectory.session.id
        if runner.advance(trajectory) is None:  # finished: fork at the first sketch and go on there
            sketch = next(s for s in trajectory.branch() if s.stage is Stage.SKETCH)
            runner.fork(trajectory, sketch.parent_id)


def timed(page, click, done: str) -> float:
    start = time.perf_counter()
    click()
    page.wait_for_function(done, timeout=30_000)
    return time.perf_counter() - start


def step_bytes(page, received: list[int]) -> tuple[str, int]:
    """Step once: the stage it committed (from the status line) and the bytes received for it."""
    before = page.locator("#sb-status").text_content()
    received.clear()
    page.locator("#sb-step").click()
    page.wait_for_function(
        "(before) => { const t = document.querySelector('#sb-status').textContent;"
        " return t !== before && (t.startsWith('paused after') || t.startsWith('finished')); }",
        arg=before,
        timeout=30_000,
    )
    time.sleep(0.3)  # let the last requests land in the byte count
    text = page.locator("#sb-status").text_content()
    stage = (
        text.split(" · ")[0].removeprefix("paused after ") if text.startswith("paused") else "final"
    )
    return stage, sum(received)


def measure(page, url: str, session_id: str, store, received: list[int]) -> dict[str, float]:
    page.goto(f"{url}?session={session_id}", wait_until="load")
    page.wait_for_function(
        "(document.querySelector('#sb-status')||{textContent: ''}).textContent.startsWith('opened')"
    )
    branch = store.load(session_id).branch()
    verdict = next(s for s in reversed(branch) if s.stage is Stage.INSPECT)
    image = next(s for s in reversed(branch) if s.image is not None)
    result = {}
    critique = (verdict.sketch_check.critique if verdict.sketch_check else "").replace("'", "\\'")
    page.locator(f"#sb-board .sb-card[data-id='{branch[0].id}']").click()  # start from another card
    result["select"] = timed(
        page,
        lambda: page.locator(f"#sb-board .sb-card[data-id='{verdict.id}']").click(),
        f"(document.querySelector('#sb-panel [data-f=sketch_check_crit]')||{{}}).value === '{critique}'",
    )
    page.locator("#sb-panel [data-f=sketch_check_crit]").fill("checked by a person")
    result["override"] = timed(
        page,
        lambda: page.locator("#sb-panel [data-do=override]").click(),
        "document.querySelector('#sb-status').textContent.includes('overridden')",
    )
    page.locator(f"#sb-board .sb-card[data-id='{image.id}']").click()
    result["accept"] = timed(
        page,
        lambda: page.locator("#sb-panel [data-do=accept]").click(),
        "document.querySelector('#sb-status').textContent.startsWith('accepted')",
    )
    received.clear()
    result["step"] = timed(
        page,
        lambda: page.locator("#sb-step").click(),
        "document.querySelector('#sb-status').textContent.startsWith('paused after')",
    )
    time.sleep(0.3)  # let the last image requests land in the byte count
    result["step_bytes"] = sum(received)
    for _ in range(8):  # Step on until a verdict and a plan were committed (text-only Steps)
        stage, sent = step_bytes(page, received)
        if stage in ("inspect", "plan"):
            result.setdefault(f"{stage}_bytes", sent)
        if stage == "final" or {"inspect_bytes", "plan_bytes"} <= result.keys():
            break
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "kits"))
    from ui_server import running_studio

    with (
        tempfile.TemporaryDirectory() as data,
        running_studio(Path(data), "offline") as (url, store),
        sync_playwright() as p,
    ):
        runner = Runner(store)
        sizes = {3: [], 30: []}
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        received: list[int] = []
        cdp.on("Network.dataReceived", lambda event: received.append(event["dataLength"]))
        for _repeat in range(args.repeats):
            for size in sizes:
                session_id = build(runner, size)
                steps = len(store.load(session_id).steps)
                sizes[size].append(
                    measure(page, url, session_id, store, received) | {"steps": steps}
                )
        browser.close()
    print(f"{'action':<10} {'@3 (s)':>9} {'@30 (s)':>9} {'ratio':>7}")
    for key in ("select", "override", "accept", "step"):
        small = statistics.median(r[key] for r in sizes[3])
        large = statistics.median(r[key] for r in sizes[30])
        print(f"{key:<10} {small:9.3f} {large:9.3f} {large / small:7.2f}")
    for key, what in (
        ("step_bytes", "a sketch"),
        ("inspect_bytes", "a verdict"),
        ("plan_bytes", "a plan"),
    ):
        small = statistics.median(r[key] for r in sizes[3] if key in r)
        large = statistics.median(r[key] for r in sizes[30] if key in r)
        print(
            f"bytes per Step committing {what}: {small:.0f} at 3 steps, {large:.0f} at 30 steps "
            f"(ratio {large / small:.2f})"
        )
    print(
        f"sessions held {sorted({r['steps'] for r in sizes[3]})} and "
        f"{sorted({r['steps'] for r in sizes[30]})} steps; {args.repeats} repeats"
    )


if __name__ == "__main__":
    main()
