"""A fresh clone without `../shared` beside it gets a passing test run; CI, which has it, runs everything.

The tests that need an upstream source or data set (tests/kits/upstream.py) skip with one line that says
where to get it and which variable points the tests at it. Nothing is deleted to prove it: a
subprocess runs those tests with the variables pointed at an empty folder.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .kits import upstream

NEEDS_UPSTREAM = [  # one test of each kind that reads what a fresh clone lacks
    "tests/engines/test_engine_bagel.py::test_bagel_cannot_refine_a_region",  # a module-scoped fixture
    "tests/export/test_export_bagel_readers.py::"
    "test_vlm_sft_lines_are_read_by_bagels_sft_dataset_with_the_loss_on_the_full_verdict",
    "tests/export/test_export_bagel_readers.py::"
    "test_think_trace_is_read_by_zebra_cots_dataset_with_the_final_image_as_the_answer",
    "tests/language/test_scene.py::test_classes_match_geneval_object_names_in_order",  # inside the test
    "tests/export/test_export_pickapic.py::"
    "test_the_dpo_scripts_own_preprocessing_trains_the_preferred_image_as_the_winner[sqlite]",
    "tests/cli/test_cli.py::test_parse_file_reproduces_geneval_include_lists",
]


def test_without_the_upstream_sources_their_tests_skip_with_how_to_get_them(tmp_path):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    env = {**os.environ, **{u.env: str(empty) for u in upstream.ALL}}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *NEEDS_UPSTREAM],
        cwd=upstream.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:]
    assert f"{len(NEEDS_UPSTREAM)} skipped" in out and "error" not in out.lower(), out[-3000:]
    skips = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert sum(int(line.split("[")[1].split("]")[0]) for line in skips) == len(NEEDS_UPSTREAM)
    assert not [line for line in skips if "upstream.py" in line]  # each names its own test
    for line in skips:
        assert "Traceback" not in line and str(empty) in line
    assert any(
        "github.com/ByteDance-Seed/Bagel" in s
        and "056b5fd" in s
        and "STROKE_STUDIO_TEST_BAGEL_REPO=" in s
        for s in skips
    )
    assert any(
        "github.com/djghosh13/geneval" in s and "STROKE_STUDIO_TEST_GENEVAL=" in s for s in skips
    )


@pytest.mark.skipif(not upstream.SHARED.is_dir(), reason="no ../shared beside this checkout")
def test_with_shared_beside_the_checkout_every_upstream_is_found_so_nothing_skips():
    """CI keeps a copy of ../shared beside the clone: there the tests run instead of skipping."""
    lost = [u.missing for u in upstream.ALL if u.env not in os.environ and not u.present()]
    assert lost == []
