"""`studio export --stats`: counts per subset and per person, and Cohen's kappa where people overlap."""

from __future__ import annotations

import json

import pytest

from studio.core.domain import Judgement, local_user
from studio.export import export
from studio.export.stats import agreement, cohen_kappa, compute, render

from .test_export_support import plain, steered


def _labels(table: dict[tuple[str, str], int]) -> list[tuple[str, str]]:
    return [pair for pair, n in table.items() for _ in range(n)]


def test_kappa_matches_worked_examples():
    # Wikipedia's "Cohen's kappa" example: 50 proposals, yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> 0.4
    assert cohen_kappa(
        _labels({("y", "y"): 20, ("y", "n"): 5, ("n", "y"): 10, ("n", "n"): 15})
    ) == pytest.approx(0.4)
    # its second example: 45/15/25/15 of 100 -> 0.1304
    assert cohen_kappa(
        _labels({("y", "y"): 45, ("y", "n"): 15, ("n", "y"): 25, ("n", "n"): 15})
    ) == pytest.approx(0.1304, abs=1e-4)
    assert cohen_kappa([("a", "a"), ("b", "b"), ("c", "c")]) == 1.0
    assert cohen_kappa([("a", "b"), ("b", "a")]) == -1.0  # always opposite
    assert (
        cohen_kappa([("a", "a"), ("a", "a")]) is None
    )  # one label throughout: undefined (sklearn gives nan)
    assert cohen_kappa([]) is None


def test_kappa_equals_the_definition_on_random_labels():
    """p_o and p_e counted the long way, over many random label sets with three categories."""
    import random

    rng = random.Random(0)
    for _ in range(200):
        labels = [(rng.choice("xyz"), rng.choice("xyz")) for _ in range(rng.randint(1, 30))]
        n = len(labels)
        p_o = sum(a == b for a, b in labels) / n
        p_e = sum(
            (sum(a == c for a, _ in labels) / n) * (sum(b == c for _, b in labels) / n)
            for c in "xyz"
        )
        expected = None if p_e == 1 else (p_o - p_e) / (1 - p_e)
        got = cohen_kappa(labels)
        assert (got is None and expected is None) or got == pytest.approx(expected)


def _j(annotator, kind, step, value, other=None, at=0.0):
    return Judgement(
        id=f"{annotator}-{step}-{other}-{at}",
        session_id="s",
        kind=kind,
        step_id=step,
        other_step_id=other,
        value=value,
        annotator=annotator,
        created_at=at,
    )


def test_agreement_compares_the_same_things_and_ignores_the_order_a_pair_was_shown_in():
    judgements = [
        _j("ann", "preference", "a", "left", other="b"),
        _j("ben", "preference", "b", "right", other="a"),  # agree
        _j("ann", "preference", "c", "left", other="d"),
        _j("ben", "preference", "c", "right", other="d"),  # not
        _j("ann", "preference", "e", "tie", other="f"),
        _j("ben", "preference", "f", "tie", other="e"),  # agree
        _j("ann", "rating", "a", "up"),
        _j("ben", "rating", "a", "up"),
        _j("ann", "rating", "b", "down"),
        _j("ben", "rating", "b", "up"),
        _j("ann", "rating", "c", "5"),
        _j("ben", "rating", "c", "4", at=1.0),
        _j("ben", "rating", "c", "5", at=2.0),
        _j("cat", "rating", "z", "up"),  # nobody else judged z: no pair with cat
    ]
    rows = {row["kind"]: row for row in agreement(judgements)}
    assert set(rows) == {"preference", "rating-thumbs", "rating-score"}
    pref = rows["preference"]
    assert pref["annotators"] == ["ann", "ben"] and pref["items"] == 3 and pref["agreed"] == 2
    assert pref["kappa"] == pytest.approx(
        cohen_kappa([("first", "first"), ("first", "second"), ("tie", "tie")]), abs=1e-4
    )
    assert rows["rating-thumbs"]["items"] == 2 and rows["rating-thumbs"]["agreed"] == 1
    assert rows["rating-score"] == {
        "kind": "rating-score",
        "annotators": ["ann", "ben"],
        "items": 1,
        "agreed": 1,
        "kappa": None,
    }  # ben's later 5 replaced his 4


@pytest.mark.backends
def test_stats_count_subsets_people_and_agreement(store, runner, scripted, tmp_path):
    s = steered(runner, scripted)
    t = s.trajectory
    runner.accept(t, s.sketch1.id, by="bob")
    for person, choice in (("alice", "right"), ("bob", "right")):
        runner.prefer(t, s.sketch2.id, s.refine2.id, choice, by=person)
    runner.prefer(t, s.refine1.id, s.sketch1.id, "left", by="alice")
    runner.prefer(
        t, s.sketch1.id, s.refine1.id, "left", by="bob"
    )  # shown the other way round: they disagree
    runner.rate(t, s.final.id, "4", by="alice")
    plain(runner)
    stats = compute(store, val_fraction=0.0)
    assert stats["sessions"] == 2
    report = export(store, "bagel", tmp_path / "b", val_fraction=0.0)
    assert {
        k: stats["subsets"][k] for k in report.counts
    } == report.counts  # the export's own counts
    # the redraw, the refine both preferred, and the two contradicting round-1 pairs (kept: both are data)
    assert (
        stats["subsets"]["pickapic"]["train"] == 4
        and stats["subsets"]["pickapic"]["preference"] == 3
    )
    assert stats["subsets"]["pickapic"]["redraw"] == 1
    assert stats["subsets"]["trl-pref"]["plan-edit"] == 1  # plan2's edit: a person then failed it
    assert stats["subsets"]["unified_edit"] == {
        "train": 3,
        "validation": 0,
        "refine": 3,  # no redraw: the scripted engine does not say it read the reason
    }  # the plain
    # session refines too: the scripted model still fails round 1
    people = stats["annotators"]
    assert people["alice"] == {"preferences": 2, "ratings": 1}
    assert people["bob"] == {"accepts": 1, "preferences": 2}
    assert people[local_user()]["edits"] >= 3 and people[local_user()]["rejects"] == 1
    (row,) = stats["agreement"]
    assert row == {
        "kind": "preference",
        "annotators": ["alice", "bob"],
        "items": 2,
        "agreed": 1,
        "kappa": row["kappa"],
    } and row["kappa"] == pytest.approx(0.0)
    text = "\n".join(render(stats))
    assert "preference: alice & bob: kappa 0.000 over 2 items (1 agreed)" in text


# -- the command line -------------------------------------------------------------------------------


def _cli(capsys, store, *args):
    from ..kits.cli_support import studio

    return studio(capsys, "export", *args, "--db", store.url, "--data-dir", str(store.data_dir))


def _judged_twice(runner, scripted):
    s = steered(runner, scripted)
    for person in ("ann", "ben"):
        runner.rate(s.trajectory, s.final.id, "up", by=person)
        runner.rate(s.trajectory, s.sketch2.id, "up" if person == "ann" else "down", by=person)
    return s


def test_stats_alone_print_counts_people_and_kappa(capsys, store, runner, scripted):
    _judged_twice(runner, scripted)
    code, out, err = _cli(capsys, store, "--stats", "--val-fraction", "0")
    assert code == 0, err
    assert (
        "1 sessions" in out and "pickapic: train 1" in out
    )  # ratings of different stages make no pair; the "too dark" redraw is one
    assert "ann: ratings 2" in out and "ben: ratings 2" in out
    assert "rating-thumbs: ann & ben: kappa 0.000 over 2 items (1 agreed)" in out


def test_stats_with_an_export_and_as_json(capsys, store, runner, scripted, tmp_path):
    _judged_twice(runner, scripted)
    code, out, err = _cli(
        capsys, store, "--format", "pickapic", "--out", str(tmp_path / "pap"), "--stats", "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["format"] == "pickapic" and (tmp_path / "pap" / "README.md").exists()
    assert report["stats"]["agreement"][0]["annotators"] == ["ann", "ben"]
    assert report["stats"]["annotators"]["ann"] == {"ratings": 2}


def test_export_without_a_format_or_folder_says_what_to_pass(capsys, store):
    for args in ((), ("--format", "hf"), ("--out", "x", "--stats")):
        code, out, err = _cli(capsys, store, *args)
        assert code == 1 and "Pass --format and --out" in err and "Traceback" not in err + out


def test_the_command_line_offers_every_registered_format():
    from studio.cli.export import Format
    from studio.export import FORMATS

    assert [f.value for f in Format] == list(FORMATS)
