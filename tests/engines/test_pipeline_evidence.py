"""The pipeline engine's detector evidence: which planned nouns a detector can look for, and what it says of the rest.

Detections are given as plain (label, score, box) rows: these specs stand in for a detector's output, not
for the detector (tests/engines/test_engine_pipeline.py runs the real COCO and OWLv2 detectors).
"""

from __future__ import annotations

from studio.engines.pipeline.evidence import judge, planned_groups

BOX = (1.0, 2.0, 30.0, 40.0)


def test_the_coco_detector_looks_for_known_classes_and_names_the_rest():
    checkable, unseen = planned_groups(
        "two green pears below a yellow lamp and a black cat", open_vocabulary=False
    )
    assert [g.cls for g in checkable] == ["cat"] and unseen == ["lamp", "pear"]
    groups, none = planned_groups("two green pears below a yellow lamp and a black cat")
    assert (
        sorted(g.cls for g in groups) == ["cat", "lamp", "pear"] and none == []
    )  # OWLv2 is asked about all


def test_coco_evidence_names_what_it_did_not_look_for_and_misses_only_what_it_knows():
    text, boxes, problems, found, unseen = judge(
        "a dog, a lamp and a rhino", [("dog", 0.9, BOX)], open_vocabulary=False
    )
    assert problems == [] and unseen == ["lamp", "rhino"]
    assert (
        text
        == "1 dog (not among the detector's classes, so not looked for: lamp, rhino; judge those from the image)"
    )
    assert [b.label for b in boxes] == ["dog"] and found[0]["label"] == "dog"
    _, _, problems, _, _ = judge("a dog and a lamp", [], open_vocabulary=False)
    assert problems == ["The detector found no dog."]


def test_an_open_vocabulary_detector_reports_any_planned_noun_it_did_not_find():
    _, _, problems, _, unseen = judge("a dog and two lamps", [("lamp", 0.8, BOX)])
    assert unseen == [] and problems == [
        "The detector found no dog.",
        "The detector found 1 lamp, the plan has 2.",
    ]
