"""No export trains what a person marked wrong, and every verdict it teaches reads with the engine's reader.

Sessions with every kind of correction are built through the real Runner and store, with the
scripted engine (tests/kits/fakes.py) and with the offline engine: a plan a person edited, a plan
and a sketch a person overrode to "no", a reject with a reason (redrawn by an engine that says it
read the reason, and by one that says nothing), an accept, a person's own refine, and a model
refine that changed nothing after a person's "no" ("Nothing to fix"). Hypothesis then plays
action sequences nobody wrote. What a person marked wrong is found here from the stored steps
directly, not through the exporter's rule, and every format is read back:
- no target of any format is a plan, an image or a text a person marked wrong, or a refine that
  changed nothing;
- no target verdict passes an image or a plan a person failed;
- every verdict-position text (bagel's answer after the inspect request, vlm-sft's answers,
  trl-pref's chosen and rejected) reads with `studio.core.protocol.read_verdict`.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio import engines
from studio.core import protocol
from studio.core.domain import (
    Author,
    Review,
    RunSettings,
    Stage,
    StudioError,
    last,
    last_image,
    person_input,
    unchanged,
)
from studio.engines.bagel import transcript
from studio.engines.base import ImageResult, RefineResult, UsedInput
from studio.export import export
from studio.export.provenance import NOTE_LINES

from ..kits.fakes import ScriptedEngine
from .test_export_support import jsonl, steered

FORMATS = ("bagel", "think-trace", "vlm-sft", "trl-pref", "unified_edit", "pickapic", "folder")


class ReadsReasons(ScriptedEngine):
    """Stands in for an engine that redraws from the rejected image and the reason, and says so."""

    name = "reads-reasons"

    def sketch(self, ctx):
        result = super().sketch(ctx)
        if ctx.person is not None and ctx.person.kind == "reason":
            return ImageResult(
                result.image, meta=result.meta, used_input=UsedInput(True, "redrew it")
            )
        return result


class CannotFix(ScriptedEngine):
    """Stands in for a model that answers a person's "no" with the same image and "Nothing to fix"."""

    name = "cannot-fix"

    def refine(self, ctx, instruction, region):
        if instruction is None and ctx.person is not None:
            image = ctx.current_image()
            return RefineResult(
                "Nothing to fix: the sketch matches the plan.", image.convert("RGB")
            )
        return super().refine(ctx, instruction, region)


class ActsOnVerdicts(ScriptedEngine):
    """Stands in for an engine that refines to answer a person's overridden verdict and says so (as
    BAGEL's `used_input` does: the verdict is in its context, with a request to answer it)."""

    name = "acts-on-verdicts"

    def refine(self, ctx, instruction, region):
        result = super().refine(ctx, instruction, region)
        if ctx.person is not None and ctx.person.kind == "verdict":
            result.used_input = UsedInput(True, "refined to answer it")
        return result


@pytest.fixture
def more_engines():
    made = {
        "reads-reasons": ReadsReasons(),
        "cannot-fix": CannotFix(),
        "acts-on-verdicts": ActsOnVerdicts(),
    }
    for name, engine in made.items():
        engines.register(name, lambda engine=engine: engine)
    yield made
    for name in made:
        engines.unregister(name)


# -- what people said, read from the stored steps -----------------------------------------------


def marked_wrong(store, session_ids):
    """(plan step ids, image sha256s, step ids) people marked wrong, and the steps that changed
    nothing, across the sessions' trees."""
    plans, images, unchanged_ids, model_after_no = set(), set(), set(), set()
    for session_id in session_ids:
        t = store.load(session_id)
        for step in t.steps.values():
            if step.review is Review.REJECTED and step.image is not None:
                images.add(step.image.sha256)
            if step.stage is Stage.REFINE and unchanged(step):
                unchanged_ids.add(step.id)
            if step.stage is Stage.INSPECT and step.author is Author.HUMAN:
                before = t.branch(step.id)[:-1]
                if "plan_check" in step.original and not step.plan_check.passed:
                    plans.add(last(before, Stage.PLAN).id)
                if "sketch_check" in step.original and not step.sketch_check.passed:
                    images.add(last_image(before).image.sha256)
                if any(
                    n in step.original and not getattr(step, n).passed
                    for n in ("plan_check", "sketch_check")
                ):
                    for child in t.children(step.id):
                        used = (child.meta.get("person_input") or {}).get("used")
                        if (
                            child.stage is Stage.REFINE
                            and child.author is Author.MODEL
                            and not used
                        ):
                            model_after_no.add(child.id)
    return plans, images, unchanged_ids, model_after_no


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bagel_elements(root):
    """(need_loss, kind, stage, step_id, text or image sha256) of every assistant element."""
    out = []
    for part in sorted((root / "train").glob("*.parquet")):
        for row in pq.read_table(part).to_pylist():
            conversation = json.loads(row["conversation"])
            provenance = json.loads(row["provenance"])
            content = conversation[-1]["content"]
            assert len(content) == len(provenance)
            for element, where in zip(content, provenance):
                value = (
                    element["content"]
                    if element["type"] == "text"
                    else _sha(base64.b64decode(element["content"]))
                )
                out.append(
                    (element["need_loss"], element["type"], where["stage"], where["step_id"], value)
                )
    return out


def _check_bagel(root, said):
    plans, wrong_images, unchanged_ids, model_after_no = said
    elements = bagel_elements(root)
    previous_image = None
    for index, (loss, kind, stage, step_id, value) in enumerate(elements):
        if kind == "image":
            previous_image = value
            if loss:
                assert value not in wrong_images, "a wrong image is a target"
            continue
        if loss:
            assert stage != "request"
            assert step_id not in unchanged_ids and step_id not in model_after_no
            if stage == "plan":
                assert step_id not in plans, "a plan a person failed is a target"
                assert not any(line in value for line in NOTE_LINES)
        if index and elements[index - 1][4] in _inspect_requests():
            checks = protocol.read_verdict(value)  # verdict position: the engine's reader reads it
            if loss and checks.sketch.passed:
                assert previous_image not in wrong_images, "a target passes a wrong image"


def _check_think_trace(root, said):
    plans, wrong_images, unchanged_ids, model_after_no = said
    for row in jsonl(root / "train" / "think_trace.jsonl"):
        assert row["Final Answer"] == protocol.FINAL
        for key, path in row.items():
            if key.startswith("reasoning_image_"):
                assert _sha((root / path).read_bytes()) not in wrong_images
        for where in row["provenance"]:
            assert where["step_id"] not in unchanged_ids | model_after_no
            if where["stage"] == "plan":
                assert where["step_id"] not in plans
        assert "Understood:" not in row["Text Reasoning Trace"]


def _check_vlm_sft(root, said):
    plans, wrong_images, unchanged_ids, model_after_no = said
    for row in jsonl(root / "train" / "inspect.jsonl"):
        question, answer = (c["value"] for c in row["conversations"])
        assert question.endswith(transcript.INSPECT_REQUEST.split(" Think")[0]) or (
            transcript.INSPECT_REQUEST in question
        )
        checks = protocol.read_verdict(answer)
        assert protocol.read_verdict(answer, strict=True) == checks
        if checks.sketch.passed:
            assert _sha((root / row["image"]).read_bytes()) not in wrong_images


def _check_trl_pref(root, said):
    plans, wrong_images, unchanged_ids, model_after_no = said
    for part in sorted((root / "vision").glob("train-*.parquet")):
        for row in pq.read_table(part).to_pylist():
            for key in ("chosen", "rejected"):
                protocol.read_verdict(row[key][0]["content"][-1]["text"])
    for part in sorted((root / "text").glob("train-*.parquet")):
        for row in pq.read_table(part).to_pylist():
            # chosen is learned: never a plan edit a person then failed
            assert row["step_id"] not in plans, "a chosen plan a person failed"


def _check_unified_edit(root, said):
    plans, wrong_images, unchanged_ids, model_after_no = said
    for part in sorted((root / "train").glob("*.parquet")):
        for row in pq.read_table(part).to_pylist():
            shas = [_sha(data) for data in row["image_list"]]
            assert all(a != b for a, b in zip(shas, shas[1:])), "an edit of an image into itself"
            assert not set(shas[1:]) & wrong_images, "an edit whose result a person marked wrong"
            assert not set(row["step_ids"]) & (unchanged_ids | model_after_no)


def _check_pickapic(root, said):
    plans, wrong_images, unchanged_ids, model_after_no = said
    for part in sorted((root / "data").glob("train-*.parquet")):
        for row in pq.read_table(part).to_pylist():
            winner = row["image_0_sha256"] if row["label_0"] == 1.0 else row["image_1_sha256"]
            assert winner not in wrong_images


CHECKS = {
    "bagel": _check_bagel,
    "think-trace": _check_think_trace,
    "vlm-sft": _check_vlm_sft,
    "trl-pref": _check_trl_pref,
    "unified_edit": _check_unified_edit,
    "pickapic": _check_pickapic,
    "folder": lambda root, said: None,
}


def check_exports(store, session_ids, out):
    """Export every format for the sessions; assert the three invariants on each."""
    said = marked_wrong(store, session_ids)
    readouts = {}
    for name in FORMATS:
        try:
            export(store, name, out / name, sessions=session_ids, val_fraction=0.0)
        except StudioError as error:
            assert "nothing to export" in str(error).lower(), error
            continue
        readouts[name] = out / name
    for name, root in readouts.items():
        CHECKS[name](root, said)
    return readouts


def _inspect_requests():
    return {transcript.INSPECT_REQUEST, transcript.INSPECT_REQUEST + transcript.THINK}


# -- sessions with every kind of correction ----------------------------------------------------


def overridden_then_refined(runner, engine="scripted", prompt="a red apple", which="sketch"):
    """The model's verdict passes; a person overrides one check to "no"; the model refines."""
    t = runner.new_session(prompt, engine=engine, seed=5, settings=RunSettings(max_rounds=3))
    plan = runner.advance(t)
    sketch = runner.advance(t)
    inspect = runner.advance(t)
    assert inspect.stage is Stage.INSPECT
    if which == "sketch":
        runner.override(
            t, inspect.id, sketch_passed=False, sketch_critique="the apple is green", by="ana"
        )
    else:
        runner.override(
            t,
            inspect.id,
            plan_passed=False,
            plan_critique="the prompt says red, not this",
            by="ana",
        )
    refine = runner.advance(t)
    runner.run(t)
    return t, plan, sketch, refine


def test_a_sketch_a_person_failed_is_context_and_the_models_unacted_refine_is_not_a_target(
    store, runner, scripted, tmp_path
):
    t, plan, sketch, refine = overridden_then_refined(runner)
    assert refine.stage is Stage.REFINE
    readouts = check_exports(store, [t.session.id], tmp_path)
    elements = bagel_elements(readouts["bagel"])
    sketch_parts = [e for e in elements if e[3] == sketch.id]
    assert [(loss, kind) for loss, kind, *_ in sketch_parts] == [(False, "image")]
    verdict = next(e for e in elements if e[2] == "inspect" and "the apple is green" in e[4])
    assert verdict[0] is True  # the person's verdict is learned
    assert all(not loss for loss, _, _, step_id, _ in elements if step_id == refine.id)


@pytest.mark.parametrize("engine", ["scripted", "acts-on-verdicts"])
def test_the_request_to_answer_a_persons_verdict_is_context_and_the_refine_a_target_only_if_acted_on(
    store, runner, more_engines, scripted, tmp_path, engine
):
    t, plan, sketch, refine = overridden_then_refined(runner, engine=engine)
    stored = store.load(t.session.id).steps[refine.id]
    request = transcript.refine_request(transcript.answers_verdict(stored))
    assert "the apple is green" in request  # the engine asked this refine to answer ana's verdict
    readouts = check_exports(store, [t.session.id], tmp_path)
    parts = [e for e in bagel_elements(readouts["bagel"]) if e[3] == refine.id]
    acted = engine == "acts-on-verdicts"  # the rule: a model refine after a person's "no" is a
    assert [(loss, kind, stage) for loss, kind, stage, *_ in parts] == [  # target only if acted on
        (False, "text", "request"),
        (acted, "text", "refine"),
        (acted, "image", "refine"),
    ]
    assert parts[0][4] == request and parts[1][4] == protocol.refine_text(stored.instruction)


def test_a_plan_a_person_failed_is_context_and_the_persons_verdict_its_target(
    store, runner, scripted, tmp_path
):
    t, plan, sketch, refine = overridden_then_refined(runner, which="plan")
    readouts = check_exports(store, [t.session.id], tmp_path)
    elements = bagel_elements(readouts["bagel"])
    assert [
        loss for loss, _, stage, step_id, _ in elements if step_id == plan.id and stage == "plan"
    ] == [False]
    texts = [e[4] for e in elements if e[2] == "inspect" and e[0]]
    assert any("the prompt says red, not this" in text for text in texts)


def test_nothing_to_fix_after_a_persons_no_is_no_target_and_no_edit(
    store, runner, more_engines, tmp_path
):
    t, plan, sketch, refine = overridden_then_refined(runner, engine="cannot-fix")
    stored = store.load(t.session.id).steps[refine.id]
    assert unchanged(stored) and stored.instruction.startswith("Nothing to fix")
    readouts = check_exports(store, [t.session.id], tmp_path)
    assert not any(refine.id == e[3] for e in bagel_elements(readouts["bagel"]))
    sft = jsonl(readouts["vlm-sft"] / "train" / "inspect.jsonl")
    assert not any("Nothing to fix" in r["conversations"][1]["value"] for r in sft)
    if "unified_edit" in readouts:
        rows = [
            r
            for p in (readouts["unified_edit"] / "train").glob("*.parquet")
            for r in pq.read_table(p).to_pylist()
        ]
        assert not any(refine.id in r["step_ids"] for r in rows)


def test_a_reject_with_a_reason_is_a_verdict_the_engine_reads(store, runner, scripted, tmp_path):
    s = steered(runner, scripted)
    readouts = check_exports(store, [s.trajectory.session.id], tmp_path)
    elements = bagel_elements(readouts["bagel"])
    critique = next(e for e in elements if e[2] == "critique")
    assert critique[0] is True
    checks = protocol.read_verdict(critique[4], strict=True)
    assert checks.sketch == protocol.read_check("<sketch>no: too dark</sketch>", "sketch")
    assert critique[4].startswith("<plan>")  # the plan check as stored
    sft = jsonl(readouts["vlm-sft"] / "train" / "inspect.jsonl")
    assert any(r["conversations"][1]["value"] == critique[4] for r in sft)


@pytest.mark.parametrize(
    "prompt", ["a red apple", "a WRONG apple"]
)  # WRONG: the model fails the plan
def test_a_reject_after_its_inspect_is_learned_as_the_verdict_the_engines_redraw_context_holds(
    store, runner, scripted, tmp_path, prompt
):
    t = runner.new_session(prompt, engine="scripted", seed=4, settings=RunSettings(max_rounds=2))
    runner.advance(t)  # plan
    rejected = runner.advance(t)
    assert (
        runner.advance(t).stage is Stage.INSPECT
    )  # the model judges the image a person then rejects
    redraw = runner.reject(t, rejected.id, note="too dark", by="ana")
    runner.run(t)
    stored = store.load(t.session.id)
    redraw, session = stored.steps[redraw.id], stored.session
    # what the BAGEL engine puts into the redraw's context after the rejected image (engine._context)
    branch = stored.branch(redraw.parent_id)
    sent = transcript.reason_segments(
        stored.steps[rejected.id], transcript.stored_plan_check(branch), session
    )
    sent.append(
        transcript.Segment(
            "text",
            transcript.stage_request(Stage.SKETCH, session, redraw.round, person_input(redraw)),
        )
    )
    assert sent[1].text == "<plan>yes</plan><sketch>no: too dark</sketch>"
    readouts = check_exports(store, [t.session.id], tmp_path)
    elements = bagel_elements(readouts["bagel"])
    at = next(i for i, e in enumerate(elements) if e[2] == "critique")
    assert [(e[0], e[4]) for e in elements[at - 1 : at + 2]] == [
        (False, sent[0].text),  # the inspect request
        (True, sent[1].text),  # the person's reason, as the verdict the engine shows
        (False, sent[2].text),  # the request for a redraw that answers it
    ]
    assert elements[at + 2][:4] == (True, "image", "sketch", redraw.id)


def test_a_redraw_is_an_edit_only_where_the_engine_read_the_reason(
    store, runner, more_engines, scripted, tmp_path
):
    for engine in ("scripted", "reads-reasons"):
        t = runner.new_session("a cat", engine=engine, seed=2, settings=RunSettings(max_rounds=2))
        runner.advance(t)
        rejected = runner.advance(t)
        runner.reject(t, rejected.id, note="too dark", by="ana")
        runner.run(t)
        out = tmp_path / engine
        readouts = check_exports(store, [t.session.id], out)
        rows = (
            [
                r
                for p in (readouts["unified_edit"] / "train").glob("*.parquet")
                for r in pq.read_table(p).to_pylist()
            ]
            if "unified_edit" in readouts
            else []
        )
        redraws = [r for r in rows if r["source"] == "redraw"]
        assert len(redraws) == (1 if engine == "reads-reasons" else 0), engine
        pairs = pq.read_table(
            next((readouts["pickapic"] / "data").glob("train-*.parquet"))
        ).to_pylist()
        assert [(p["source"], p["label_0"], p["image_0_sha256"]) for p in pairs] == [
            ("redraw", 0.0, rejected.image.sha256)
        ]


def test_a_plan_edit_a_person_then_failed_is_no_chosen_plan(store, runner, scripted, tmp_path):
    s = steered(runner, scripted)  # plan2: a person added WRONG, then failed the plan for it
    readouts = check_exports(store, [s.trajectory.session.id], tmp_path)
    rows = pq.read_table(next((readouts["trl-pref"] / "text").glob("train-*.parquet"))).to_pylist()
    assert [r["step_id"] for r in rows] == [s.plan1.id]


def test_the_export_holds_the_contexts_the_engine_sends(store, runner, scripted, tmp_path):
    s = steered(runner, scripted)
    export(store, "bagel", tmp_path / "bagel", val_fraction=0.0)
    row = pq.read_table(next((tmp_path / "bagel" / "train").glob("*.parquet"))).to_pylist()[0]
    conversation = json.loads(row["conversation"])
    assert [turn["content"] for turn in conversation[:-1]] == transcript.root_texts(
        s.trajectory.session
    )
    texts = [e["content"] for e in conversation[-1]["content"] if e["type"] == "text"]
    requests = transcript.requests(s.trajectory.session, 1)
    assert requests[Stage.PLAN] in texts and requests[Stage.INSPECT] in texts
    sft = jsonl(_exported(store, "vlm-sft", tmp_path) / "train" / "inspect.jsonl")
    assert all(r["conversations"][0]["value"].startswith(transcript.SYSTEM) for r in sft)


def _exported(store, name, tmp_path):
    export(store, name, tmp_path / name, val_fraction=0.0)
    return tmp_path / name


def test_the_offline_engines_corrected_sessions_keep_the_invariants(store, runner, tmp_path):
    t, plan, sketch, refine = overridden_then_refined(
        runner, engine="offline", prompt="a red cup and a blue ball"
    )
    u, *_ = overridden_then_refined(
        runner, engine="offline", prompt="two green apples", which="plan"
    )
    readouts = check_exports(store, [t.session.id, u.session.id], tmp_path)
    assert "bagel" in readouts and "vlm-sft" in readouts


# -- corrections nobody wrote ----------------------------------------------------------------

ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "advance",
                "reject",
                "accept",
                "fail-sketch",
                "fail-plan",
                "pass",
                "own-refine",
                "edit",
            ]
        ),
        st.sampled_from(["too dark", "", "the cup is red, not blue", "WRONG"]),
    ),
    min_size=1,
    max_size=10,
)


def play(runner, t, actions):
    """Apply each action where it applies to the head (skipping those that do not), then finish."""
    for action, text in actions:
        head = t.head()
        try:
            if action == "advance" or head is None:
                runner.advance(t)
            elif action == "reject" and head.stage in (Stage.SKETCH, Stage.REFINE) and head.image:
                runner.reject(t, head.id, note=text, by="hy")
            elif action == "accept" and head.stage in (Stage.SKETCH, Stage.REFINE, Stage.FINAL):
                runner.accept(t, head.id, note=text, by="hy")
            elif action in ("fail-sketch", "fail-plan", "pass") and head.stage is Stage.INSPECT:
                name = {"fail-sketch": "sketch", "fail-plan": "plan", "pass": "sketch"}[action]
                runner.override(
                    t,
                    head.id,
                    **{f"{name}_passed": action == "pass", f"{name}_critique": text or "no"},
                    by="hy",
                )
            elif action == "own-refine" and head.stage is Stage.INSPECT:
                runner.refine_with(t, head.id, text or "make it brighter", by="hy")
            elif action == "edit" and head.stage is Stage.PLAN:
                runner.edit_plan(
                    t, head.id, description=(head.description or "") + " " + (text or "x"), by="hy"
                )
        except StudioError:
            pass
    runner.run(t)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=ACTIONS, engine=st.sampled_from(["scripted", "cannot-fix", "reads-reasons"]))
def test_corrections_nobody_wrote_keep_the_invariants(
    store, runner, more_engines, scripted, tmp_path_factory, actions, engine
):
    t = runner.new_session(
        "a cat and a dog", engine=engine, seed=11, settings=RunSettings(max_rounds=3)
    )
    play(runner, t, actions)
    check_exports(store, [t.session.id], tmp_path_factory.mktemp("hy"))


def test_the_note_line_is_the_offline_engines():
    from studio.engines.offline.plan import UNDERSTOOD

    assert NOTE_LINES == (UNDERSTOOD,)
