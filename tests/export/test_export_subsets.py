"""The paper's three subsets, derived from sessions a person steered: what lands where, and who wrote it."""

from __future__ import annotations

import pytest

from studio.core import pngmeta
from studio.engines.bagel import transcript
from studio.export import export
from studio.export.select import branches
from studio.runner import PausePolicy

from .test_export_support import jsonl, plain, steered

pytestmark = pytest.mark.backends  # each test's store on SQLite and on PostgreSQL


@pytest.fixture
def session(runner, scripted):
    return steered(runner, scripted)


def folder_export(store, out, **options):
    report = export(store, "folder", out, val_fraction=0.0, **options)
    rows = {
        name: jsonl(out / "train" / f"{name}.jsonl")
        if (out / "train" / f"{name}.jsonl").exists()
        else []
        for name in ("multi_turn", "conflict", "alignment")
    }
    return report, rows


def test_a_steered_session_is_one_trajectory_in_the_order_it_was_made(store, session, tmp_path):
    _, rows = folder_export(store, tmp_path / "out")
    [trajectory] = rows["multi_turn"]
    assert trajectory["prompt"] == "a cat and a dog" and trajectory["human"] is True
    assert [(t["stage"], t["kind"], t["target"]) for t in trajectory["turns"]] == [
        ("request", "text", False),  # the engine's plan request: context, never learned
        ("plan", "text", True),  # the person's edit of the plan
        ("sketch", "image", False),  # the rejected draft: context …
        ("request", "text", False),
        ("critique", "text", True),  # … then the person's reason, as a verdict
        ("request", "text", False),  # the engine's request for a redraw that answers it
        ("sketch", "image", True),
        ("request", "text", False),
        ("inspect", "text", True),
        ("request", "text", False),
        ("refine", "text", True),
        ("refine", "image", True),
        ("request", "text", False),
        ("inspect", "text", True),
        ("request", "text", False),
        ("plan", "text", False),  # a person failed this plan ("WRONG is not in the prompt")
        ("sketch", "image", True),
        ("request", "text", False),
        ("inspect", "text", True),  # the person's verdict
        ("request", "text", False),
        ("refine", "text", True),  # the person's own refine
        ("refine", "image", True),
        ("request", "text", False),
        ("inspect", "text", True),
    ]  # the final image re-saves the last refine (plus its trajectory), so it is not learned twice
    requests = {t["text"] for t in trajectory["turns"] if t["stage"] == "request"}
    assert transcript.INSPECT_REQUEST in requests and all(r.strip() for r in requests)
    texts = [t["text"] for t in trajectory["turns"] if t["kind"] == "text" and t["target"]]
    assert texts[0] == "<ins>draw a tabby cat</ins><des>a cat</des><done>no</done>"
    assert texts[1] == "<plan>yes</plan><sketch>no: too dark</sketch>"
    assert texts[5] == (
        "<plan>no: WRONG is not in the prompt; drop it.</plan>"
        "<sketch>yes: The sketch follows the instruction.</sketch>"
    )  # the form the engines read
    images = [t for t in trajectory["turns"] if t["kind"] == "image"]
    assert [t["sha256"] for t in images] == [
        s.image.sha256
        for s in (
            session.rejected,
            session.sketch1,
            session.refine1,
            session.sketch2,
            session.refine2,
        )
    ]
    assert [trajectory["images"][t["image"]] for t in images] == [
        f"images/{t['sha256']}.png" for t in images
    ]


def test_provenance_names_the_author_and_keeps_the_model_original(store, session, tmp_path):
    _, rows = folder_export(store, tmp_path / "out")
    turns = [t for t in rows["multi_turn"][0]["turns"] if t["stage"] != "request"]
    plan1, rejected, critique = turns[0], turns[1], turns[2]
    assert plan1["author"] == "human" and plan1["original"] == {"instruction": "draw a cat"}
    assert (
        rejected["review"] == "rejected"
        and rejected["review_note"] == "too dark"
        and rejected["author"] == "model"
    )
    assert critique["author"] == "human" and critique["step_id"] == session.rejected.id
    accepted = turns[9]
    assert accepted["review"] == "accepted" and accepted["review_note"] == "nice dog"
    overridden = turns[10]
    assert overridden["author"] == "human"
    assert overridden["original"]["plan_check"]["critique"] == "The plan contradicts the prompt."
    assert turns[11] == {
        **turns[11],
        "author": "human",
        "text": "<refine>remove the word WRONG</refine>",
    }
    assert (
        turns[5]["author"] == "model" and turns[5]["text"] == "<refine>fix what is missing</refine>"
    )


def test_conflict_samples_are_plans_against_the_prompt_with_positive_and_negative_verdicts(
    store, session, tmp_path
):
    report, rows = folder_export(store, tmp_path / "out")
    positive, negative = rows["conflict"]
    assert (
        positive["id"] == session.inspect1.id
        and positive["label"] == "positive"
        and positive["passed"] is True
    )
    assert (positive["instruction"], positive["description"]) == ("draw a tabby cat", "a cat")
    assert positive["plan_author"] == "human" and positive["plan_original"] == {
        "instruction": "draw a cat"
    }
    assert positive["verdict_author"] == "model" and positive["verdict_original"] is None
    # the person rewrote the model's critique: a labelled critique, the model's kept beside it
    assert negative["id"] == session.inspect2.id and negative["label"] == "negative"
    assert negative["description"] == "a cat, a dog, WRONG" and negative["plan_original"] == {
        "description": "a cat, a dog"
    }
    assert (
        negative["critique"] == "WRONG is not in the prompt; drop it."
        and negative["verdict_author"] == "human"
    )
    assert negative["verdict_original"] == {
        "passed": False,
        "critique": "The plan contradicts the prompt.",
        "evidence": [],
    }
    # inspect1b and inspect2b judged the same plans again: one sample per plan, the person's kept
    assert report.duplicates["conflict"] == 2
    assert report.counts["conflict"]["positive"] == 1 and report.counts["conflict"]["negative"] == 1


def test_alignment_samples_take_reviews_and_verdicts_with_the_corrective_instruction(
    store, session, tmp_path
):
    _, rows = folder_export(store, tmp_path / "out")
    by_id = {row["id"]: row for row in rows["alignment"]}
    assert list(by_id) == [
        session.rejected.id,
        session.inspect1.id,
        session.inspect1b.id,
        session.sketch2.id,
        session.inspect2.id,  # a person overrode its plan check: the full verdict is theirs
        session.inspect2b.id,
    ]
    rejected = by_id[session.rejected.id]
    assert (rejected["label"], rejected["source"], rejected["verdict_author"]) == (
        "negative",
        "review",
        "human",
    )
    assert rejected["explanation"] == "too dark" and rejected["instruction"] == "draw a tabby cat"
    assert rejected["image"] == f"images/{session.rejected.image.sha256}.png"
    failed = by_id[session.inspect1.id]
    assert (failed["label"], failed["source"], failed["verdict_author"]) == (
        "negative",
        "inspect",
        "model",
    )
    assert (
        failed["explanation"] == "Something is missing."
        and failed["corrective_instruction"] == "fix what is missing"
    )
    assert (
        failed["image"] == f"images/{session.sketch1.image.sha256}.png"
        and failed["image_stage"] == "sketch"
    )
    fixed = by_id[session.inspect1b.id]
    assert (
        fixed["label"] == "positive"
        and fixed["image_stage"] == "refine"
        and fixed["corrective_instruction"] == ""
    )
    accepted = by_id[session.sketch2.id]
    assert (accepted["label"], accepted["source"], accepted["explanation"]) == (
        "positive",
        "review",
        "nice dog",
    )
    assert by_id[session.inspect2b.id]["image_author"] == "human"  # the person's refine drew it


def test_a_persons_review_beats_the_models_verdict_on_the_same_image(
    store, runner, scripted, tmp_path
):
    t = runner.new_session("a cat", engine="scripted", seed=3)
    runner.advance(t)  # plan
    sketch = runner.advance(t)
    runner.accept(t, sketch.id, note="good cat")
    model = runner.advance(t)  # the model's verdict on the image the person accepted
    runner.run(t)
    report, rows = folder_export(store, tmp_path / "out")
    ids = [row["id"] for row in rows["alignment"]]
    assert sketch.id in ids and model.id not in ids
    assert report.duplicates["alignment"] == 1


def test_a_persons_review_and_their_override_on_the_same_image_are_two_corrections(
    store, session, tmp_path
):
    report, rows = folder_export(store, tmp_path / "out")
    ids = [row["id"] for row in rows["alignment"]]
    # inspect2 judged sketch2, which the person accepted; a person then overrode its plan check
    assert session.sketch2.id in ids and session.inspect2.id in ids
    assert report.duplicates["alignment"] == 0


def test_a_persons_verdict_replaces_an_earlier_model_verdict_on_the_same_plan(
    store, runner, scripted, tmp_path
):
    scripted.fail_rounds = {1}
    t = runner.new_session("a cat", engine="scripted", seed=3)
    runner.run(t, pause=PausePolicy.AT_INSPECT)
    first = t.head()  # the model's verdict on the plan
    runner.advance(t)  # refine
    second = runner.override(t, runner.advance(t).id, plan_critique="Yes: one cat, as asked.")
    runner.run(t)
    report, rows = folder_export(store, tmp_path / "out")
    [kept] = rows["conflict"]
    assert first.id != second.id and kept["id"] == second.id
    assert kept["critique"] == "Yes: one cat, as asked." and kept["verdict_author"] == "human"
    assert report.duplicates["conflict"] == 1


def test_unfinished_branches_give_verdicts_but_no_trajectory(store, runner, scripted, tmp_path):
    t = runner.new_session("a cat", engine="scripted", seed=3)
    for _ in range(3):
        runner.advance(t)  # plan, sketch, inspect: no final yet
    report, rows = folder_export(store, tmp_path / "out")
    assert rows["multi_turn"] == [] and report.trajectories == 0
    assert len(rows["conflict"]) == 1 and len(rows["alignment"]) == 1


def test_sessions_that_made_the_same_images_are_exported_once(store, runner, scripted, tmp_path):
    first, second = plain(runner, seed=5), plain(runner, seed=5)
    assert (
        first.head().image != second.head().image
    )  # each final carries its own session's trajectory …
    data = [store.image_path(t.head().image.sha256).read_bytes() for t in (first, second)]
    assert pngmeta.strip(data[0]) == pngmeta.strip(data[1])  # … over the same pixels
    report, rows = folder_export(store, tmp_path / "out")
    assert len(rows["multi_turn"]) == 1 and report.duplicates["multi_turn"] == 1
    assert len(rows["alignment"]) == 1 and len(rows["conflict"]) == 1


def test_all_branches_exports_every_leaf_and_a_shared_step_once(store, runner, scripted, tmp_path):
    t = plain(runner, "a cat and a dog", seed=2)
    first_inspect = t.branch()[2]
    runner.fork(t, first_inspect.id)
    runner.refine_with(t, first_inspect.id, "make the cat bigger")
    runner.run(t)
    assert len(branches(t, all_branches=True)) == 2
    _, head_only = folder_export(store, tmp_path / "head")
    report, every = folder_export(store, tmp_path / "all", all_branches=True)
    assert len(head_only["multi_turn"]) == 1 and len(every["multi_turn"]) == 2
    conflict_ids = [row["id"] for row in every["conflict"]]
    assert len(conflict_ids) == len(set(conflict_ids)) and first_inspect.id in conflict_ids
    # the shared first inspect is one sample, not a duplicate; the two re-judged plans are duplicates
    assert report.duplicates["conflict"] == 2


def test_a_rejected_draft_is_not_a_branch_of_its_own(store, session, tmp_path):
    ends = [b[-1].id for b in branches(session.trajectory, all_branches=True)]
    assert session.rejected.id not in ends and ends == [session.final.id]
