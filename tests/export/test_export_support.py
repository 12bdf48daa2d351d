"""Sessions the export tests share: one a person steered at every kind of step, one left to the model.

Not tests themselves; the `test_export_*` modules import these builders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from studio.core.domain import RunSettings, Step, Trajectory
from studio.runner import PausePolicy, Runner


@dataclass
class Steered:
    trajectory: Trajectory
    plan1: Step  # instruction edited by a person
    rejected: Step  # first sketch, rejected "too dark"
    sketch1: Step  # its redraw
    inspect1: Step  # the model fails the sketch …
    refine1: Step  # … and the model refines it
    inspect1b: Step
    plan2: Step  # description edited by a person (adds WRONG)
    sketch2: Step  # accepted "nice dog"
    inspect2: Step  # the model fails the plan; a person rewrites the critique (still failing)
    refine2: Step  # a person's own refine
    inspect2b: Step
    final: Step


def steered(runner: Runner, scripted, prompt: str = "a cat and a dog", seed: int = 7) -> Steered:
    """plan (edited) → sketch (rejected, redrawn) → inspect ✗ → refine → inspect ✓ → plan (edited) →
    sketch (accepted) → inspect (critique rewritten) → refine by a person → inspect → final."""
    scripted.fail_rounds = {1}
    t = runner.new_session(prompt, engine="scripted", seed=seed, settings=RunSettings(max_rounds=4))
    plan1 = runner.edit_plan(t, runner.advance(t).id, instruction="draw a tabby cat")
    rejected = runner.advance(t)
    sketch1 = runner.reject(t, rejected.id, note="too dark")
    inspect1, refine1, inspect1b = (runner.advance(t) for _ in range(3))
    plan2 = runner.edit_plan(t, runner.advance(t).id, description="a cat, a dog, WRONG")
    sketch2 = runner.advance(t)
    runner.accept(t, sketch2.id, note="nice dog")
    inspect2 = runner.override(
        t, runner.advance(t).id, plan_critique="WRONG is not in the prompt; drop it."
    )
    refine2 = runner.refine_with(t, inspect2.id, "remove the word WRONG")
    inspect2b = runner.advance(t)
    runner.run(t)
    steps = t.steps
    return Steered(
        t,
        steps[plan1.id],
        steps[rejected.id],
        steps[sketch1.id],
        inspect1,
        refine1,
        inspect1b,
        steps[plan2.id],
        steps[sketch2.id],
        steps[inspect2.id],
        refine2,
        inspect2b,
        t.head(),
    )


def plain(
    runner: Runner, prompt: str = "a red apple", seed: int = 1, engine: str = "scripted"
) -> Trajectory:
    """A session the model ran alone, start to finish."""
    t = runner.new_session(prompt, engine=engine, seed=seed)
    runner.run(t, PausePolicy.NEVER)
    return t


def jsonl(path: Path) -> list[dict]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under a folder by relative path, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
