"""`folder` and `hf` exports import back losslessly; a final PNG carries its session and reopens it."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from studio.core import pngmeta, protocol
from studio.core.codec import trajectory_to_dict
from studio.core.domain import Mode, RunSettings, Stage, StudioError
from studio.export import export, import_path
from studio.runner import PausePolicy
from studio.store import Store

from .test_export_support import plain, steered

pytestmark = pytest.mark.backends  # each test's store on SQLite and on PostgreSQL


@pytest.fixture
def fresh(tmp_path):
    other = Store(data_dir=tmp_path / "fresh")
    yield other
    other.close()


@pytest.fixture
def rich(runner, scripted):
    """A steered session, plus one with a title, tags, settings and a region-limited refine."""
    first = steered(runner, scripted).trajectory
    second = runner.new_session(
        "a cat",
        engine="scripted",
        seed=11,
        title="Region study",
        tags=("cats", "regions"),
        settings=RunSettings(max_rounds=3, mode=Mode.PROCESS, engine_params={"size": 32}),
    )
    runner.run(second, pause=PausePolicy.AT_INSPECT)
    mask = Image.new("L", (32, 32), 0)
    mask.paste(255, (0, 0, 16, 32))
    runner.refine_with(second, second.head().id, "fix the left half", region_mask=mask)
    runner.run(second)
    return [first, second]


def same(store, other, session_id):
    a, b = store.load(session_id), other.load(session_id)
    assert a.session == b.session  # ids, versions, times, settings, tags, head
    assert trajectory_to_dict(a) == trajectory_to_dict(b)
    for step in a.steps.values():
        for ref in (step.image, step.region.image if step.region else None):
            if ref is not None:
                assert (
                    other.image_path(ref.sha256).read_bytes()
                    == store.image_path(ref.sha256).read_bytes()
                )


@pytest.mark.parametrize("name", ["folder", "hf"])
def test_an_export_imports_into_a_fresh_database_losslessly(store, fresh, rich, tmp_path, name):
    export(store, name, tmp_path / name, val_fraction=0.5)
    report = import_path(fresh, tmp_path / name)
    assert sorted(report.imported) == sorted(t.session.id for t in rich) and report.present == []
    for trajectory in rich:
        same(store, fresh, trajectory.session.id)
    assert any(s.region for s in fresh.load(rich[1].session.id).steps.values())


def test_the_whole_tree_travels_even_when_only_the_head_branch_was_chosen(
    store, fresh, runner, scripted, tmp_path
):
    t = plain(runner, "a cat and a dog", seed=4)
    runner.fork(t, t.branch()[0].id)
    runner.run(t)
    export(store, "folder", tmp_path / "out")
    import_path(fresh, tmp_path / "out")
    assert len(fresh.load(t.session.id).leaves()) == 2
    same(store, fresh, t.session.id)


def test_importing_again_leaves_the_sessions_as_they_are(store, fresh, rich, tmp_path):
    export(store, "folder", tmp_path / "out")
    import_path(fresh, tmp_path / "out")
    report = import_path(fresh, tmp_path / "out")
    assert report.imported == [] and sorted(report.present) == sorted(t.session.id for t in rich)


def test_an_image_whose_bytes_changed_is_refused(store, fresh, rich, tmp_path):
    export(store, "folder", tmp_path / "out")
    victim = next((tmp_path / "out" / "images").iterdir())
    victim.write_bytes(victim.read_bytes()[:-1] + b"\0")
    with pytest.raises(StudioError, match="is damaged"):
        import_path(fresh, tmp_path / "out")


@pytest.mark.parametrize("name", ["bagel", "think-trace", "vlm-sft"])
def test_training_only_formats_say_which_formats_carry_sessions(store, fresh, rich, tmp_path, name):
    export(store, name, tmp_path / name)
    with pytest.raises(StudioError, match=f"is a {name} export.*--format folder or --format hf"):
        import_path(fresh, tmp_path / name)


def test_an_export_in_a_newer_text_protocol_is_refused_before_anything_is_written(
    store, fresh, rich, tmp_path
):
    export(store, "folder", tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["protocol"] == protocol.VERSION
    manifest["protocol"] = protocol.VERSION + 1
    (tmp_path / "out" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        StudioError,
        match=f"version {protocol.VERSION + 1} of the loop's text protocol; .*up to "
        f"version {protocol.VERSION}",
    ):
        import_path(fresh, tmp_path / "out")
    assert fresh.list_sessions() == []


def test_a_folder_that_is_not_an_export_is_refused(fresh, tmp_path):
    (tmp_path / "stuff").mkdir()
    with pytest.raises(StudioError, match="not a Stroke Studio export"):
        import_path(fresh, tmp_path / "stuff")
    with pytest.raises(StudioError, match="does not exist"):
        import_path(fresh, tmp_path / "nowhere")


def test_every_final_image_carries_its_trajectory(store, runner, scripted):
    t = plain(runner, "a cat and a dog", seed=6)
    final, last_sketch = t.head(), t.branch()[-3]
    assert final.stage is Stage.FINAL
    data = store.image_path(final.image.sha256).read_bytes()
    payload = pngmeta.read(data)
    assert payload["trajectory"]["session"]["id"] == t.session.id
    assert [s["id"] for s in payload["trajectory"]["steps"]] == [s.id for s in t.branch()[:-1]]
    assert (
        pngmeta.strip(data) == store.image_path(last_sketch.image.sha256).read_bytes()
    )  # pixels untouched
    assert store.load_image(final.image).tobytes() == store.load_image(last_sketch.image).tobytes()


def test_an_engines_own_final_image_is_stamped_too(store, runner, scripted):
    from studio.engines.base import FinalResult

    scripted.finalize = lambda ctx: FinalResult(image=Image.new("RGB", (8, 8), (9, 9, 9)))
    t = plain(runner, "a cat", seed=6)
    assert (
        pngmeta.read(store.image_path(t.head().image.sha256).read_bytes())["trajectory"]["session"][
            "id"
        ]
        == t.session.id
    )
    assert store.load_image(t.head().image).getpixel((0, 0)) == (9, 9, 9)


def test_a_final_png_reopens_its_session_in_a_fresh_database(
    store, fresh, runner, scripted, tmp_path
):
    t = steered(runner, scripted).trajectory
    png = tmp_path / "final.png"
    png.write_bytes(store.image_path(t.head().image.sha256).read_bytes())
    report = import_path(fresh, png)
    assert report.source == "png" and report.imported == [t.session.id]
    assert report.missing_images == {
        t.session.id: 5
    }  # the drafts before the final are not in the PNG
    reopened = fresh.load(t.session.id)
    assert [s.stage for s in reopened.branch()] == [s.stage for s in t.branch()]
    assert reopened.head().image == t.head().image and reopened.head().stage is Stage.FINAL
    assert [s.id for s in reopened.branch()[:-1]] == [s.id for s in t.branch()[:-1]]
    assert reopened.steps[t.branch()[0].id].original == {"instruction": "draw a cat"}
    assert fresh.load_image(reopened.head().image).size == (32, 32)


def test_a_final_png_of_a_session_already_here_just_opens_it(store, runner, scripted, tmp_path):
    t = plain(runner, "a cat", seed=2)
    report = import_path(store, store.image_path(t.head().image.sha256))
    assert report.imported == [] and report.present == [t.session.id]


def test_a_png_without_a_trajectory_is_refused(fresh, tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    (tmp_path / "plain.png").write_bytes(buffer.getvalue())
    with pytest.raises(StudioError, match="carries no Stroke Studio trajectory"):
        import_path(fresh, tmp_path / "plain.png")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(StudioError, match="neither a PNG nor an export folder"):
        import_path(fresh, tmp_path / "notes.txt")


def test_stamping_round_trips_text_of_any_size_and_replaces_an_earlier_stamp(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (1, 2, 3)).save(buffer, format="PNG")
    original = buffer.getvalue()
    for text in (
        "ünïcødé ✓",
        "x" * (2 * pngmeta.COMPRESS_UP_TO),
    ):  # compressed, then stored plainly
        stamped = pngmeta.stamp(pngmeta.stamp(original, {"note": "old"}), {"note": text})
        assert pngmeta.read(stamped)["note"] == text and pngmeta.strip(stamped) == original
        with Image.open(io.BytesIO(stamped)) as image:  # Pillow still reads it, text chunk included
            image.load()
            assert json.loads(image.text[pngmeta.KEYWORD.decode()])["note"] == text
    assert pngmeta.read(original) is None


def _three_sessions_exported(tmp_path, name="folder"):
    """An export of three sessions from another database; the first has the prompt and seed of the
    session `_here` makes, so its drafts are the same image files."""
    from studio.runner import Runner

    source = Store(data_dir=tmp_path / "source")
    try:
        made = [
            plain(Runner(source), p, seed=s) for p, s in (("a cat", 3), ("a dog", 4), ("a cow", 5))
        ]
        export(source, name, tmp_path / name, val_fraction=0)
    finally:
        source.close()
    return tmp_path / name, [t.session.id for t in made]


def _files(store) -> dict[str, bytes]:
    return {
        str(p.relative_to(store.images_dir)): p.read_bytes()
        for p in store.images_dir.rglob("*.png")
    }


@pytest.mark.parametrize("name", ["folder", "hf"])
def test_an_import_that_fails_midway_leaves_no_session_and_no_new_file(
    store, runner, scripted, tmp_path, monkeypatch, name
):
    """Every session of an export goes in one transaction: the database failing on the second
    (its insert raising stands in for a dropped connection or a full disk) rolls the first back too,
    and removes the image files the import wrote, never a file a session here already had."""
    from studio.store import steps as store_steps

    here = plain(runner, "a cat", seed=3)
    root, ids = _three_sessions_exported(tmp_path, name)
    before = _files(store)
    real, seen = store_steps.insert_step, []

    def failing(conn, step):
        seen.append(step.session_id) if step.session_id not in seen else None
        if len(seen) == 2:
            raise RuntimeError("the connection dropped")
        real(conn, step)

    monkeypatch.setattr(store_steps, "insert_step", failing)
    with pytest.raises(RuntimeError, match="connection dropped"):
        import_path(store, root)
    assert [s.id for s in store.list_sessions()] == [here.session.id]
    assert _files(store) == before and store.load(here.session.id).session == here.session
    monkeypatch.undo()
    report = import_path(store, root)  # nothing half-done is in the way of a second try
    assert sorted(report.imported) == sorted(ids) and report.present == []


def test_a_png_naming_an_image_another_session_holds_here_is_refused(
    store, runner, scripted, tmp_path
):
    """A crafted PNG whose tree names another session's images by hash (with false sizes) would link
    them into the importer's new session; it carries only its own pixels, so it is refused."""
    from studio.export.roundtrip import renumbered

    victim = plain(runner, "a private cat", seed=8)
    tree = trajectory_to_dict(renumbered(store.load(victim.session.id)))
    for step in tree["steps"]:
        if step["image"]:
            step["image"].update(width=1, height=1, byte_size=1)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (7, 7, 7)).save(buffer, format="PNG")
    (tmp_path / "crafted.png").write_bytes(pngmeta.stamp(buffer.getvalue(), {"trajectory": tree}))
    before = _files(store)
    with pytest.raises(StudioError, match="does not carry"):
        import_path(store, tmp_path / "crafted.png", owner="mallory")
    assert [s.id for s in store.list_sessions()] == [victim.session.id] and _files(store) == before
