"""The loop's text protocol (studio/core/protocol.py): every text an exporter writes reads back to the same
fields with the engines' parser, over generated trajectories; an unreadable verdict is recorded, never a pass."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio import engines
from studio.core import protocol
from studio.core.domain import (
    Author,
    Box,
    Check,
    ImageRef,
    Mode,
    Review,
    RunSettings,
    Session,
    Stage,
    Step,
    Trajectory,
)
from studio.core.protocol import UnreadableText
from studio.core.tagged import parse, render
from studio.engines import prompts
from studio.engines.bagel import transcript
from studio.engines.base import StageContext
from studio.export.formats import bagel, think_trace, vlm_sft
from studio.export.rows import multi_turn_row
from studio.export.subsets import derive

from ..kits.fakes import ScriptedEngine

# -- generated trajectories -------------------------------------------------------------------
# Texts as the domain holds them (stripped; a person's edits are stripped, so are the engines'), but
# otherwise anything: tags, ampersands, quotes, newlines, any script.
TEXT = (
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
    .map(str.strip)
    .filter(bool)
)
# What the engines' own clean-up leaves of a model's answer: printable, single-spaced.
CLEAN = (
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Zs")), min_size=1, max_size=12
    )
    .map(lambda t: t.replace("<", "‹"))
    .filter(lambda t: t.isprintable())
)
NUMBER = st.floats(allow_nan=False, allow_infinity=False, width=64)
BOX = st.builds(
    Box,
    NUMBER,
    NUMBER,
    NUMBER,
    NUMBER,
    label=st.text(max_size=10),
    score=st.none() | st.floats(0, 1),
)
CHECK = st.builds(Check, st.booleans(), st.just("") | TEXT, st.lists(BOX, max_size=2).map(tuple))
IMAGE = st.builds(
    ImageRef,
    st.text("0123456789abcdef", min_size=64, max_size=64),
    st.integers(1, 4096),
    st.integers(1, 4096),
    st.integers(1, 10**8),
)


@st.composite
def trajectories(draw) -> tuple[Trajectory, list[Step]]:
    """A finished branch: rounds of plan → sketch → inspect (→ refine → inspect), then final."""
    session = Session(id="s", prompt=draw(TEXT), engine="offline", seed=1)
    steps: list[Step] = []

    def add(stage: Stage, **fields) -> None:
        steps.append(
            Step(
                id=f"s{len(steps)}",
                session_id="s",
                parent_id=steps[-1].id if steps else None,
                stage=stage,
                created_at=float(len(steps)),
                author=draw(st.sampled_from(Author)),
                **fields,
            )
        )

    rounds = draw(st.integers(1, 3))
    for index in range(rounds):
        add(
            Stage.PLAN, instruction=draw(TEXT), description=draw(TEXT), complete=index == rounds - 1
        )
        add(Stage.SKETCH, image=draw(IMAGE), review=draw(st.none() | st.just(Review.ACCEPTED)))
        add(Stage.INSPECT, plan_check=draw(CHECK), sketch_check=draw(CHECK))
        if draw(st.booleans()):
            add(Stage.REFINE, instruction=draw(TEXT), image=draw(IMAGE))
            add(Stage.INSPECT, plan_check=draw(CHECK), sketch_check=draw(CHECK))
    add(Stage.FINAL, image=draw(IMAGE))
    return Trajectory.of(session, steps), steps


def _texts_of(step: Step) -> dict:
    """The fields a step's text carries."""
    if step.stage is Stage.PLAN:
        return {"plan": protocol.Plan(step.instruction, step.description, step.complete)}
    if step.stage is Stage.INSPECT:
        return {"verdict": protocol.Checks(step.plan_check, step.sketch_check)}
    return {"refine": step.instruction}


def _read(text: str, stage: str, strict: bool):
    if stage == "plan":
        return {"plan": protocol.read_plan(text, strict=strict)}
    if stage == "inspect":
        return {"verdict": protocol.read_verdict(text, strict=strict)}
    return {"refine": protocol.read_refine(text, strict=strict)}


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(trajectories())
def test_every_exported_text_reads_back_to_its_fields(drawn):
    trajectory, branch = drawn
    by_id = {s.id: s for s in branch}
    [sample] = derive(trajectory, [branch], lambda ref: "").multi_turn
    answers = [t.kind == "text" and t.stage != "request" for t in sample.turns]
    turns = [t for t, answer in zip(sample.turns, answers) if answer]
    assert turns, "a finished branch teaches texts"
    content = json.loads(bagel.conversation(sample, lambda sha: b""))[-1]["content"]
    assert len(content) == len(sample.turns)
    bagel_texts = [c["content"] for c, answer in zip(content, answers) if answer]
    row_texts = [
        t["text"]
        for t, answer in zip(multi_turn_row(sample, lambda ref: ref.sha256)["turns"], answers)
        if answer
    ]
    trace = think_trace.row(sample, lambda sha: sha)["Text Reasoning Trace"]
    trace_texts = [
        re.fullmatch(
            r"THOUGHT \d+: (.*?)(?: ?<image_start>\[reasoning_image_\d+\]<image_end>)*", line
        ).group(1)
        for line in trace.split("\n")
    ]  # one line per thought, whatever the texts hold
    trace_texts = [text for text in trace_texts if text]  # a thought that is only an image
    assert bagel_texts == row_texts == [t.text for t in turns]
    learned = [t for t in turns if t.target]  # think-trace holds the targets only
    assert len(trace_texts) == len(learned)
    for turn, text in zip(learned, trace_texts, strict=True):
        assert _read(text, turn.stage, strict=True) == _texts_of(by_id[turn.step_id])
    for turn, *texts in zip(turns, bagel_texts, row_texts, strict=True):
        expected = _texts_of(by_id[turn.step_id])
        for text in texts:
            assert (
                _read(text, turn.stage, strict=True) == expected
            )  # the studio's own form, exactly
            assert (
                _read(text, turn.stage, strict=False) == expected
            )  # and what the engines read of it


@SETTINGS
@given(trajectories())
def test_vlm_sft_answers_are_full_verdicts_the_engine_reads(drawn):
    trajectory, branch = drawn
    by_id = {s.id: s for s in trajectory.steps.values()}
    subsets = derive(trajectory, [branch], lambda ref: "")
    trees = {trajectory.session.id: trajectory}
    for sample in subsets.alignment:
        question, answer = (
            turn["value"]
            for turn in vlm_sft.inspect_row(
                sample, vlm_sft.question_of(sample, trees), lambda sha: sha
            )["conversations"]
        )
        assert question.endswith(transcript.requests(trajectory.session, 1)[Stage.INSPECT])
        checks = protocol.read_verdict(answer, strict=True)  # both checks, as the engine reads them
        assert protocol.read_verdict(answer) == checks
        if sample.source == "inspect":
            step = by_id[sample.verdict_step_id]
            assert checks == protocol.Checks(step.plan_check, step.sketch_check)
        else:  # a person's accept or reject of the image
            assert (checks.sketch.passed, checks.sketch.critique) == (
                sample.passed,
                sample.explanation,
            )


@SETTINGS
@given(trajectories())
def test_studio_show_text_round_trips_every_content_field(drawn):
    trajectory, branch = drawn
    prompt, parsed = parse(render(trajectory.session.prompt, branch))
    assert prompt == trajectory.session.prompt
    fields = (
        "stage",
        "author",
        "instruction",
        "description",
        "complete",
        "plan_check",
        "sketch_check",
        "image",
        "review",
    )
    assert [[getattr(s, f) for f in fields] for s in parsed] == [
        [getattr(s, f) for f in fields] for s in branch
    ]


def _ctx(branch=(), mode=Mode.PROCESS) -> StageContext:
    session = Session(
        id="s", prompt="a red apple", engine="x", seed=1, settings=RunSettings(mode=mode)
    )
    return StageContext(
        session=session,
        stage=Stage.INSPECT,
        branch=list(branch),
        seed=1,
        params={},
        round=1,
        max_rounds=4,
        mode=mode,
        load_image=lambda ref: None,
    )


@SETTINGS
@given(
    st.builds(Check, st.booleans(), CLEAN),
    st.builds(Check, st.booleans(), CLEAN),
    CLEAN,
    CLEAN,
    st.booleans(),
)
def test_the_engines_read_the_exported_form_of_what_a_model_said(
    plan_check, sketch_check, ins, des, complete
):
    """prompts.* (what the engines call on a model's answer) give back what the exporters wrote."""
    verdict = prompts.inspect_result(protocol.verdict_text(plan_check, sketch_check))
    assert (verdict.plan_check.passed, verdict.sketch_check.passed) == (
        plan_check.passed,
        sketch_check.passed,
    )
    assert (verdict.plan_check.critique, verdict.sketch_check.critique) == (
        plan_check.critique,
        sketch_check.critique,
    )
    plan = prompts.plan_result(protocol.plan_text(ins, des, complete), _ctx())
    assert (plan.instruction, plan.description, plan.complete, plan.meta["format_ok"]) == (
        ins,
        des,
        complete,
        True,
    )
    assert prompts.refine_instruction(protocol.refine_text(ins), _ctx()) == (ins, True)


def test_lenient_reading_takes_what_models_write_and_strict_does_not():
    loose = "<think>the <plan> is fine</think>Sure. <PLAN>Pass - ok</PLAN>\n<sketch>fail: no cup"
    assert protocol.read_verdict(loose) == protocol.Checks(
        Check(True, "ok"), Check(False, "no cup")
    )
    with pytest.raises(UnreadableText):
        protocol.read_verdict(loose, strict=True)
    old_export = (
        '<inspect><plan pass="true">Fine.</plan><sketch pass="false">No cup.</sketch></inspect>'
    )
    assert protocol.read_verdict(old_export) == protocol.Checks(
        Check(True, "Fine."), Check(False, "No cup.")
    )
    assert protocol.read_plan("<ins>draw a cup") == protocol.Plan("draw a cup", None, None)
    with pytest.raises(UnreadableText, match="plan could not be read"):
        protocol.read_plan("<ins>draw a cup</ins><des>a cup</des>", strict=True)  # no <done>
    assert protocol.VERSION == 1


def test_an_unreadable_verdict_is_recorded_as_not_passed_never_as_a_pass(runner):
    """A model that answers neither yes nor no: the inspect step keeps the error and the raw answer,
    has no checks, and the loop refines instead of moving on as if the sketch were right."""

    class Mumbling(ScriptedEngine):  # stands in for a model that ignores the verdict tags
        def inspect(self, ctx):
            self._record(Stage.INSPECT)
            return prompts.inspect_result("I think it looks nice, maybe.")

    engine = Mumbling()
    engines.register("mumbling", lambda: engine)
    try:
        t = runner.new_session(
            "a red apple", engine="mumbling", seed=3, settings=RunSettings(max_rounds=2)
        )
        runner.run(t)
    finally:
        engines.unregister("mumbling")
    stages = [s.stage for s in t.branch()]
    assert stages == [
        Stage.PLAN,
        Stage.SKETCH,
        Stage.INSPECT,
        Stage.REFINE,
        Stage.INSPECT,
        Stage.FINAL,
    ]
    verdict = t.branch()[2]
    assert verdict.plan_check is None and verdict.sketch_check is None and not verdict.passed
    assert (
        "could not be read" in verdict.meta["error"]
        and verdict.meta["raw"] == "I think it looks nice, maybe."
    )
    stored = runner.store.load(t.session.id).steps[verdict.id]
    assert stored.meta["error"] == verdict.meta["error"]
    assert "<unreadable/>" in render("a red apple", t.branch()).splitlines()[3]
    assert parse(render("a red apple", t.branch()))[1][2].plan_check is None


def test_a_half_read_verdict_keeps_what_was_read_and_a_detectors_findings():
    with pytest.raises(UnreadableText) as caught:
        protocol.read_verdict("<plan>no: two cats, the prompt says one</plan><sketch>hmm</sketch>")
    assert caught.value.readable == {"plan_check": Check(False, "two cats, the prompt says one")}
    box = Box(1, 2, 3, 4, "dog", 0.2)
    with pytest.raises(UnreadableText) as caught:
        prompts.inspect_result(
            "nonsense", evidence_boxes=(box,), detector_problems=["The detector found no dog."]
        )
    assert caught.value.readable == {
        "sketch_check": Check(False, "The detector found no dog.", (box,))
    }
