"""What a person's correction puts into a BAGEL context, as text (studio/engines/bagel/transcript.py).

Plain text handling on the domain's steps: no torch, no worker (tests/engines/test_engine_bagel.py runs the
same through BAGEL's real code). The exporters call these functions too, so they are checked here as the
pure functions they must stay.
"""

from __future__ import annotations

import subprocess
import sys

from studio.core import protocol
from studio.core.domain import (
    PERSON_INPUT,
    Check,
    ImageRef,
    PersonInput,
    Review,
    RunSettings,
    Session,
    Stage,
    Step,
)
from studio.engines.bagel import transcript

SESSION = Session(
    id="s1",
    prompt="a red cup left of a blue clock",
    engine="bagel",
    seed=1,
    settings=RunSettings(max_rounds=3),
)


def step(stage: Stage, **fields) -> Step:
    return Step(
        id=f"{stage.value}-1", session_id="s1", parent_id=None, stage=stage, round=1, **fields
    )


def texts(segments) -> list[str]:
    return [s.text if s.kind == "text" else f"image {s.step.image.sha256}" for s in segments]


def test_a_refine_that_answered_a_persons_verdict_is_rebuilt_with_the_request_to_answer_it():
    person = PersonInput("verdict", "inspect-1", "the cup should be <green>", True, "given")
    answered = step(
        Stage.REFINE,
        instruction="make the cup green",
        image=ImageRef("ab" * 32, 64, 64, 10),
        meta={PERSON_INPUT: person.to_dict()},
    )
    plain = step(
        Stage.REFINE, instruction="make the cup green", image=ImageRef("cd" * 32, 64, 64, 10)
    )
    request = texts(transcript.segments(answered, SESSION))[0]
    # marked as the studio's request, so an exporter never takes it for the model's answer
    assert [s.request for s in transcript.segments(answered, SESSION)] == [True, False, False]
    # the same request the refine stage adds for StageContext.person, escaped as the protocol's TEXT
    assert request == transcript.stage_request(Stage.REFINE, SESSION, 1, person)
    assert "the cup should be &lt;green&gt;" in request and request != transcript.REFINE_REQUEST
    assert texts(transcript.segments(plain, SESSION))[0] == transcript.REFINE_REQUEST
    # which changes the refine's key: a context built for the model's verdict is never taken for it
    assert transcript.step_key("k", answered, SESSION) != transcript.step_key(
        "k", answered.replace(meta={}), SESSION
    )


def test_a_reject_reason_is_the_protocols_verdict_on_the_attempt_as_drawn_then_a_redraw_request():
    rejected = step(
        Stage.REFINE,
        instruction="make the cup bigger",
        image=ImageRef("ef" * 32, 64, 64, 10),
        review=Review.REJECTED,
        review_note="the clock should be on the left of the cup",
    )
    stored = texts(transcript.segments(rejected, SESSION))
    assert "image " + "ef" * 32 not in stored  # a rejected image puts nothing into a context
    drawn = texts(transcript.segments(transcript.as_drawn(rejected), SESSION))
    assert drawn == [
        transcript.REFINE_REQUEST,
        "<refine>make the cup bigger</refine>",
        "image " + "ef" * 32,
    ]
    plan_check = Check(False, "the plan has no clock")
    after = texts(transcript.reason_segments(rejected, plan_check, SESSION))
    assert after == [
        transcript.INSPECT_REQUEST,
        "<plan>no: the plan has no clock</plan><sketch>no: the clock should be on the left of the cup</sketch>",
    ]
    assert protocol.read_verdict(after[1], strict=True).sketch == Check(
        False, "the clock should be on the left of the cup"
    )
    # the plan check as stored is the latest inspect's of the branch's plan; none judged a new plan
    judged = step(Stage.INSPECT, plan_check=plan_check, sketch_check=Check(True))
    plan = step(Stage.PLAN, instruction="draw a cup", description="a cup", complete=False)
    assert transcript.stored_plan_check([plan, judged]) == plan_check
    assert transcript.stored_plan_check([plan, judged, plan]) is None
    # no inspect judged a sketch's plan: the redraw keeps the plan
    assert transcript.reason_verdict(None, "too dark").startswith("<plan>yes</plan>")
    person = PersonInput("reason", rejected.id, rejected.review_note)
    for stage, asks in ((Stage.SKETCH, "Draw it again"), (Stage.REFINE, "<refine>…</refine>")):
        request = transcript.stage_request(stage, SESSION, 1, person)
        assert "the clock should be on the left of the cup" in request and asks in request


def test_the_texts_a_context_is_made_of_come_from_functions_that_need_no_torch():
    code = (
        "import sys\n"
        "from studio.engines.bagel import transcript as t\n"
        "from studio.core.domain import Stage\n"
        "assert t.root_texts.__name__ and t.prompt_line('a cat') == 'Prompt: a cat'\n"
        "assert t.stage_request(Stage.SKETCH, None, 1) is None\n"
        "assert 'torch' not in sys.modules, 'transcript imported torch'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
