"""Where an export may be written, and that it appears whole or not at all."""

from __future__ import annotations

import json
import zipfile

import pytest

from studio.core.domain import ImageRef, Stage, Step, StudioError, new_id
from studio.export import export, export_zip

from .test_export_support import plain, tree

pytestmark = pytest.mark.backends  # each test's store on SQLite and on PostgreSQL


@pytest.fixture
def sessions(runner, scripted):
    return [plain(runner, f"apple {i}", seed=i) for i in range(4)]


def test_a_file_is_not_an_output_folder(store, sessions, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StudioError, match="is a file; pass a folder"):
        export(store, "folder", tmp_path / "notes.txt")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_folder_under_a_file_cannot_be_created(store, sessions, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StudioError, match="Cannot write to .*choose a folder you can write to"):
        export(store, "folder", tmp_path / "notes.txt" / "out")


def test_a_non_empty_folder_needs_force(store, sessions, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(StudioError, match="is not empty; pass --force"):
        export(store, "folder", out)
    assert tree(out) == {"keep.txt": b"mine"}


def test_force_replaces_an_earlier_export_but_never_other_files(store, sessions, tmp_path):
    out = tmp_path / "out"
    export(store, "bagel", out)
    export(store, "folder", out, force=True)
    assert (out / "sessions.jsonl").exists() and not (out / "parquet_info.json").exists()
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"jpeg")
    with pytest.raises(
        StudioError, match="not a Stroke Studio export, so even --force will not replace it"
    ):
        export(store, "folder", other, force=True)
    assert tree(other) == {"cat.jpg": b"jpeg"}


def test_an_empty_folder_is_used_as_it_is(store, sessions, tmp_path):
    (tmp_path / "out").mkdir()
    export(store, "folder", tmp_path / "out")
    assert (tmp_path / "out" / "manifest.json").exists()


def test_the_studios_own_data_folder_is_refused_even_with_force(store, sessions, tmp_path):
    for target in (store.data_dir, store.data_dir.parent):
        with pytest.raises(StudioError, match="holds the studio's own data"):
            export(store, "folder", target, force=True)
    for target in (store.images_dir, store.images_dir / "ab" / "new"):
        with pytest.raises(StudioError, match="inside the studio's image store"):
            export(store, "folder", target, force=True)
    assert len(store.list_sessions()) == 4


def test_an_interrupted_export_leaves_nothing_behind(store, sessions, tmp_path):
    def interrupt(done, total, phase):
        if phase == "writing" and done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export(store, "folder", tmp_path / "out", progress=interrupt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no output, no temporary folder


def test_an_interrupted_export_over_an_earlier_one_keeps_the_earlier_one(store, sessions, tmp_path):
    out = tmp_path / "out"
    export(store, "hf", out)
    before = tree(out)

    def interrupt(done, total, phase):
        if phase == "writing" and done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export(store, "bagel", out, force=True, progress=interrupt)
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "out"]


def test_progress_reports_reading_then_writing(store, sessions, tmp_path):
    seen = []
    export(
        store,
        "bagel",
        tmp_path / "out",
        progress=lambda done, total, phase: seen.append((phase, done, total)),
    )
    assert [s for s in seen if s[0] == "reading"] == [("reading", i, 4) for i in range(1, 5)]
    assert [s for s in seen if s[0] == "writing"][-1] == ("writing", 4, 4)


def test_an_image_hash_that_is_not_a_hash_never_becomes_a_path(store, runner, scripted, tmp_path):
    t = plain(runner, "pear", seed=9)
    evil = Step(
        id=new_id(),
        session_id=t.session.id,
        parent_id=t.head().id,
        stage=Stage.SKETCH,
        image=ImageRef("../../../../outside", 1, 1, 1),
    )
    store.commit(t.session, add=evil)
    report = export(store, "folder", tmp_path / "out")
    assert [s.session_id for s in report.skipped] == [t.session.id]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "out"]
    with pytest.raises(StudioError, match="missing 1 image file.*outside"):
        export(store, "folder", tmp_path / "again", strict=True)


def test_the_ui_gets_a_zip_of_the_export(store, sessions, tmp_path):
    path = export_zip(store, "bagel", tmp_path / "download.zip", val_fraction=0.0)
    assert path == tmp_path / "download.zip"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        info = archive.read("stroke-studio-bagel/parquet_info.json").decode()
    assert "stroke-studio-bagel/train/part-00000.parquet" in names
    assert "stroke-studio-bagel/manifest.json" in names
    # keyed relative to the folder: the unzipped folder loads wherever it lies
    assert json.loads(info) == {"train/part-00000.parquet": {"num_row_groups": 1, "num_rows": 4}}
    again = export_zip(store, "bagel", val_fraction=0.0)
    try:
        assert (
            again.suffix == ".zip" and again.read_bytes() == path.read_bytes()
        )  # same sessions, same bytes
    finally:
        again.unlink()
