"""Fault injection through `studio import`: crafted final PNGs and malformed export folders.

A PNG's text chunk is untrusted input. Whatever it holds, an import either adds a new session
(never writing into one that exists), reopens an existing session unchanged when the bytes are its
own final image, or answers one line and leaves the database and image folder as they were.
"""

from __future__ import annotations

import copy
import json
import shutil
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.core import pngmeta
from studio.core.codec import trajectory_to_dict
from studio.export import import_path
from studio.store import Store

from ..kits import hostile_kit as kit
from ..kits.cli_support import studio

TALLY = kit.Tally("import")


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    TALLY.save()


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """A database with one finished offline session: (data folder, session id, final PNG bytes, payload)."""
    folder = tmp_path_factory.mktemp("origin") / "data"
    store = Store(data_dir=folder)
    from studio.runner import Runner

    runner = Runner(store)
    trajectory = runner.new_session("a red apple left of a blue cup", seed=5)
    runner.run(trajectory)
    final = store.image_path(trajectory.head().image.sha256).read_bytes()
    store.close()
    return folder, trajectory.session.id, final, pngmeta.read(final)


@pytest.fixture
def target(tmp_path, origin):
    """A second database holding a copy of the origin's session (so its ids are taken here)."""
    folder = tmp_path / "target"
    shutil.copytree(origin[0], folder)
    return folder


def attempt(capsys, folder: Path, png: bytes, tmp: Path) -> tuple[int, str, str]:
    """Import crafted PNG bytes; a refusal must be one line and change nothing."""
    path = tmp / "crafted.png"
    path.write_bytes(png)
    before = kit.snapshot(folder)
    code, out, err = studio(capsys, "import", path, "--data-dir", folder)
    refused = kit.one_line_error(code, out, err)
    changed = code != 0 and kit.snapshot(folder) != before
    TALLY.record(refused_cleanly=refused, traceback="Traceback" in out + err, changed=changed)
    assert "Traceback" not in out + err and not changed
    assert refused, (code, out, err)
    return code, out, err


def _trajectory(origin) -> dict:
    return copy.deepcopy(origin[3]["trajectory"])


def _edit(origin, change) -> dict:
    data = _trajectory(origin)
    change(data)
    return {"format": pngmeta.KEYWORD.decode(), "version": 1, "trajectory": data}


BIG = 40 * 1024 * 1024
CRAFTED = {
    "payload is a list": lambda o: kit.stamped([1, 2, 3]),
    "payload is a string": lambda o: kit.stamped("hello"),
    "trajectory is a number": lambda o: kit.stamped({"version": 1, "trajectory": 7}),
    "version is text": lambda o: kit.stamped({"version": "x", "trajectory": {}}),
    "newer version": lambda o: kit.stamped({"version": 99, "trajectory": {}}),
    "not JSON": lambda o: kit.stamped(b"{not json"),
    "NaN in JSON": lambda o: kit.stamped(
        json.dumps(_edit(o, lambda d: None)).replace('"seed": 5', '"seed": NaN').encode()
    ),
    "bad zlib": lambda o: kit.with_chunk(
        kit.plain_png(), b"iTXt", pngmeta.KEYWORD + b"\0\1\0\0\0" + b"garbage"
    ),
    "bad zTXt zlib": lambda o: kit.with_chunk(
        kit.plain_png(), b"zTXt", pngmeta.KEYWORD + b"\0\0" + b"nope"
    ),
    "iTXt without its fields": lambda o: kit.with_chunk(
        kit.plain_png(), b"iTXt", pngmeta.KEYWORD + b"\0\1"
    ),
    "text-chunk bomb": lambda o: kit.stamped(b"[" * 10 + b" " * BIG, compressed=True),
    "deep nesting": lambda o: kit.stamped(
        b'{"version": 1, "trajectory": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    ),
    "steps of another session": lambda o: kit.stamped(
        _edit(o, lambda d: [s.update(session_id="f" * 32) for s in d["steps"]])
    ),
    "parent outside the tree": lambda o: kit.stamped(
        _edit(o, lambda d: d["steps"][1].update(parent_id="e" * 32))
    ),
    "a cycle": lambda o: kit.stamped(
        _edit(o, lambda d: d["steps"][0].update(parent_id=d["steps"][-1]["id"]))
    ),
    "repeated step id": lambda o: kit.stamped(
        _edit(o, lambda d: d["steps"].append(dict(d["steps"][0])))
    ),
    "unknown stage": lambda o: kit.stamped(_edit(o, lambda d: d["steps"][0].update(stage="paint"))),
    "seed beyond 64 bits": lambda o: kit.stamped(
        _edit(o, lambda d: d["session"].update(seed=2**80))
    ),
    "huge prompt": lambda o: kit.stamped(
        _edit(o, lambda d: d["session"].update(prompt="a" * 100_000))
    ),
    "prompt is a list": lambda o: kit.stamped(
        _edit(o, lambda d: d["session"].update(prompt=["a"]))
    ),
    "id not hex": lambda o: kit.stamped(
        _edit(o, lambda d: d["session"].update(id="../../etc/passwd"))
    ),
    "image hash not hex": lambda o: kit.stamped(
        _edit(o, lambda d: d["steps"][1]["image"].update(sha256="../x"))
    ),
    "negative width": lambda o: kit.stamped(
        _edit(o, lambda d: d["steps"][1]["image"].update(width=-4))
    ),
    "head outside the tree": lambda o: kit.stamped(
        _edit(o, lambda d: d["session"].update(head_id="d" * 32))
    ),
    "rounds absurd": lambda o: kit.stamped(
        _edit(o, lambda d: d["session"]["settings"].update(max_rounds=10**20))
    ),
    "unknown step field": lambda o: kit.stamped(_edit(o, lambda d: d["steps"][0].update(evil=1))),
    "garbage pixels": lambda o: kit.garbage_pixels(o[2]),
    "truncated": lambda o: o[2][: len(o[2]) // 2],
    "not a PNG": lambda o: b"GIF89a" + o[2][6:],
    "no trajectory": lambda o: kit.plain_png(),
}


@pytest.mark.parametrize("kind", list(CRAFTED))
def test_a_crafted_png_is_refused_in_one_line_and_changes_nothing(
    capsys, tmp_path, origin, target, kind
):
    attempt(capsys, target, CRAFTED[kind](origin), tmp_path)


def test_a_text_chunk_bomb_is_refused_within_bounded_memory(tmp_path, target):
    path = tmp_path / "bomb.png"
    path.write_bytes(
        kit.stamped(b" " * (300 * 1024 * 1024), compressed=True)
    )  # ≈300 KB inflating to 300 MB
    store = Store(data_dir=target)
    tracemalloc.start()
    try:
        with pytest.raises(Exception, match="more than 32 MB"):
            import_path(store, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        store.close()
    assert peak < 80 * 1024 * 1024, f"peak {peak / 2**20:.0f} MB"


def test_a_png_naming_an_existing_session_never_writes_into_it(capsys, tmp_path, origin, target):
    """Someone else's content under this session's id: imported as a new session; the old one is
    untouched. (Its steps name none of the origin's images: naming one is refused, see
    test_a_png_naming_another_sessions_image_is_refused_and_links_nothing.)"""

    def other_content(data):
        data["session"].update(prompt="a forged prompt", title="forged")
        for step in data["steps"]:
            step.update(image=None, region=None)

    forged = _edit(origin, other_content)
    path = tmp_path / "forged.png"
    path.write_bytes(kit.stamped(forged))
    store = Store(data_dir=target)
    before = trajectory_to_dict(store.load(origin[1]))
    store.close()
    code, out, err = studio(capsys, "import", path, "--data-dir", target)
    assert code == 0 and "a copy" in out, err
    store = Store(data_dir=target)
    try:
        assert trajectory_to_dict(store.load(origin[1])) == before  # not a step, not a version more
        copies = [s for s in store.list_sessions() if s.id != origin[1]]
        assert len(copies) == 1 and copies[0].prompt == "a forged prompt"
        assert not set(store.load(copies[0].id).steps) & set(before["steps"][0].keys())
    finally:
        store.close()
    TALLY.record(refused_cleanly=False, should_refuse=False)


def test_its_own_final_png_reopens_the_session_read_only(capsys, tmp_path, origin, target):
    path = tmp_path / "final.png"
    path.write_bytes(origin[2])
    before = kit.snapshot(target)
    code, out, err = studio(capsys, "import", path, "--data-dir", target)
    assert code == 0 and f"already here {origin[1]}" in out, err
    assert kit.snapshot(target) == before
    TALLY.record(refused_cleanly=False, should_refuse=False)


def test_a_final_png_moves_to_a_fresh_database(capsys, tmp_path, origin):
    path = tmp_path / "final.png"
    path.write_bytes(origin[2])
    code, out, err = studio(capsys, "import", path, "--data-dir", tmp_path / "fresh")
    assert code == 0 and f"imported {origin[1]}" in out, err
    TALLY.record(refused_cleanly=False, should_refuse=False)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    field=st.sampled_from(
        [
            "session",
            "steps",
            "branch",
            "session.settings",
            "session.seed",
            "session.title",
            "step.image",
            "step.plan_check",
            "step.meta",
            "step.round",
            "step.parent_id",
        ]
    ),
    value=JSON,
)
def test_any_json_in_any_field_is_imported_whole_or_refused_whole(
    capsys, tmp_path_factory, origin, field, value
):
    folder = tmp_path_factory.mktemp("fuzz") / "data"
    shutil.copytree(origin[0], folder)

    def change(data):
        where, _, key = field.partition(".")
        if where == "step":
            data["steps"][1][key] = value
        elif key:
            data[where][key] = value if key != "settings" else {"max_rounds": value}
        else:
            data[where] = value

    path = folder.parent / "fuzzed.png"
    path.write_bytes(kit.stamped(_edit(origin, change)))
    before = kit.snapshot(folder)
    code, out, err = studio(capsys, "import", path, "--data-dir", folder)
    refused = kit.one_line_error(code, out, err)
    changed = code != 0 and kit.snapshot(folder) != before
    TALLY.record(
        refused_cleanly=refused,
        should_refuse=refused,
        traceback="Traceback" in out + err,
        changed=changed,
    )
    assert "Traceback" not in out + err and not changed and (code == 0 or refused), (code, out, err)
    if code == 0:  # accepted: the original session is as it was, the import is a separate copy
        store = Store(data_dir=folder)
        try:
            assert trajectory_to_dict(store.load(origin[1])) == origin_rows(origin)
        finally:
            store.close()


def origin_rows(origin) -> dict:
    store = Store(data_dir=origin[0])
    try:
        return trajectory_to_dict(store.load(origin[1]))
    finally:
        store.close()


# -- export folders ------------------------------------------------------------------------------


def _folder_export(origin, tmp: Path) -> Path:
    from studio.export import export

    store = Store(data_dir=origin[0])
    try:
        export(store, "folder", tmp / "export")
    finally:
        store.close()
    return tmp / "export"


FOLDERS = {
    "manifest not JSON": lambda root: (root / "manifest.json").write_text("{oops"),
    "manifest a list": lambda root: (root / "manifest.json").write_text("[1]"),
    "manifest without a format": lambda root: (root / "manifest.json").write_text("{}"),
    "manifest format a number": lambda root: (root / "manifest.json").write_text('{"format": 3}'),
    "a line not JSON": lambda root: (root / "sessions.jsonl").write_text("not json\n"),
    "a line without a trajectory": lambda root: (root / "sessions.jsonl").write_text('{"x": 1}\n'),
    "a line with a forged trajectory": lambda root: (root / "sessions.jsonl").write_text(
        '{"trajectory": {"session": 1}}\n'
    ),
    "sessions.jsonl missing": lambda root: (root / "sessions.jsonl").unlink(),
    "sessions.jsonl not UTF-8": lambda root: (root / "sessions.jsonl").write_bytes(
        b"\xff\xfe\xfa\n"
    ),
}


@pytest.mark.parametrize("kind", list(FOLDERS))
def test_a_malformed_export_folder_is_refused_in_one_line(capsys, tmp_path, origin, kind):
    root = _folder_export(origin, tmp_path)
    FOLDERS[kind](root)
    folder = tmp_path / "fresh"
    Store(data_dir=folder).close()
    before = kit.snapshot(folder)
    code, out, err = studio(capsys, "import", root, "--data-dir", folder)
    refused = kit.one_line_error(code, out, err)
    changed = kit.snapshot(folder) != before
    TALLY.record(refused_cleanly=refused, traceback="Traceback" in out + err, changed=changed)
    assert refused and not changed, (code, out, err)


def test_an_export_image_whose_bytes_do_not_match_its_hash_leaves_no_file(capsys, tmp_path, origin):
    root = _folder_export(origin, tmp_path)
    image = next((root / "images").rglob("*.png"))
    image.write_bytes(kit.plain_png(8))
    folder = tmp_path / "fresh"
    Store(data_dir=folder).close()
    before = kit.snapshot(folder)
    code, out, err = studio(capsys, "import", root, "--data-dir", folder)
    refused, changed = kit.one_line_error(code, out, err), kit.snapshot(folder) != before
    TALLY.record(refused_cleanly=refused, traceback="Traceback" in err, changed=changed)
    assert refused and "damaged" in err and not changed


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_hf_export_is_refused_in_one_line(capsys, tmp_path, origin, damage):
    from studio.export import export

    store = Store(data_dir=origin[0])
    try:
        export(store, "hf", tmp_path / "hf")
    finally:
        store.close()
    parquet = next((tmp_path / "hf" / "sessions").glob("*.parquet"))
    data = parquet.read_bytes()
    parquet.write_bytes(
        b"PAR1" + b"\x07" * 4000 + b"PAR1" if damage == "garbage" else data[: len(data) // 2]
    )
    folder = tmp_path / "fresh"
    Store(data_dir=folder).close()
    before = kit.snapshot(folder)
    code, out, err = studio(capsys, "import", tmp_path / "hf", "--data-dir", folder)
    refused, changed = kit.one_line_error(code, out, err), kit.snapshot(folder) != before
    TALLY.record(refused_cleanly=refused, traceback="Traceback" in err, changed=changed)
    assert refused and "damaged" in err and not changed, err


# -- an import is all or nothing ---------------------------------------------------------------
# A folder or hf export holding several sessions, one of them bad: nothing of the others is written
# either, and the one line names the line (folder) or row (hf) that is wrong.


@pytest.fixture(scope="module")
def trio(tmp_path_factory):
    """Three rated sessions exported as `folder` and as `hf`: (folder export, hf export, session ids
    in line order). The first prompt and seed are the origin's, so that session's sketches are the
    same files as the origin's (a target already holds them)."""
    from studio.export import export
    from studio.runner import Runner

    base = tmp_path_factory.mktemp("trio")
    store = Store(data_dir=base / "data")
    runner = Runner(store)
    for prompt, seed in (
        ("a red apple left of a blue cup", 5),
        ("two dogs", 3),
        ("a green kite above a house", 8),
    ):
        trajectory = runner.new_session(prompt, seed=seed)
        runner.run(trajectory)
        runner.rate(trajectory, trajectory.head().id, "5", by="zoe")
    export(store, "folder", base / "folder", val_fraction=0)
    export(store, "hf", base / "hf", val_fraction=0)  # one shard: no validation split
    store.close()
    ids = [json.loads(line)["session_id"] for line in (base / "folder" / "sessions.jsonl").open()]
    return base / "folder", base / "hf", ids


def _rows(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "sessions.jsonl").read_text().splitlines()]


def _write_rows(root: Path, rows: list) -> None:
    (root / "sessions.jsonl").write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    )


def _parquet(root: Path) -> Path:
    [path] = (root / "sessions").glob("*.parquet")
    return path


def _hf_rows(root: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(_parquet(root)).to_pylist()


def _write_hf_rows(root: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = _parquet(root)
    schema = pq.read_schema(path)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def _first_image(tree: dict) -> str:
    return next(s["image"]["sha256"] for s in tree["steps"] if s.get("image"))


def _leaf(tree: dict) -> dict:
    parents = {s.get("parent_id") for s in tree["steps"]}
    return next(s for s in tree["steps"] if s["id"] not in parents)


def _spoil_folder(root: Path, n: int, kind: str, trio_ids: list[str]) -> None:
    """Line `n` of a folder export made bad in one way (the other lines are left as they were)."""
    rows = _rows(root)
    row = rows[n - 1]
    tree = row["trajectory"]
    if kind == "garbage":
        rows[n - 1] = '{"trajectory": {"session": garbage'
    elif kind == "forged step":
        tree["steps"][1]["stage"] = "paint"
    elif kind == "image bytes not matching hash":
        (root / "images" / f"{_first_image(tree)}.png").write_bytes(kit.plain_png(8))
    elif kind == "missing image":
        (root / "images" / f"{_first_image(tree)}.png").unlink()
    elif kind == "same session id twice":  # a tampered copy first, the real line after it
        rows.insert(n - 2, copy.deepcopy(row))
        rows[n - 2]["trajectory"]["session"]["title"] = "tampered"
    elif kind == "a step id of another line":
        leaf = _leaf(tree)
        if tree["session"]["head_id"] == leaf["id"]:
            tree["session"]["head_id"] = rows[0]["trajectory"]["steps"][0]["id"]
        leaf["id"] = rows[0]["trajectory"]["steps"][0]["id"]
        row["judgements"] = []
    elif kind == "image sizes that lie":
        sha = _first_image(tree)
        for step in tree["steps"]:
            if step.get("image") and step["image"]["sha256"] == sha:
                step["image"]["width"] += 1
    elif kind == "a judgement id of another line":
        row["judgements"][0]["id"] = rows[0]["judgements"][0]["id"]
    else:
        raise AssertionError(kind)
    _write_rows(root, rows)


def _spoil_hf(root: Path, n: int, kind: str) -> None:
    """Row `n` of an hf export's sessions table made bad in one way."""
    rows = _hf_rows(root)
    row = rows[n - 1]
    tree = json.loads(row["trajectory"])
    if kind == "garbage":
        row["trajectory"] = '{"session": garbage'
    elif kind == "forged step":
        tree["steps"][1]["stage"] = "paint"
    elif kind == "image bytes not matching hash":
        row["images"][0]["bytes"] = kit.plain_png(8)
    elif kind == "missing image":
        row["images"] = row["images"][1:]
    elif kind == "same session id twice":
        twin = copy.deepcopy(row)
        twin_tree = json.loads(twin["trajectory"])
        twin_tree["session"]["title"] = "tampered"
        twin["trajectory"] = json.dumps(twin_tree)
        rows.insert(n - 2, twin)
    else:
        raise AssertionError(kind)
    if kind not in ("garbage", "same session id twice"):
        row["trajectory"] = json.dumps(tree)
    _write_hf_rows(root, rows)


def _refused_whole(capsys, target: Path, export_root: Path) -> str:
    """Import `export_root` into `target`: one line, and the target exactly as it was."""
    before = kit.snapshot(target)
    code, out, err = studio(capsys, "import", export_root, "--data-dir", target)
    refused = kit.one_line_error(code, out, err)
    changed = kit.snapshot(target) != before
    TALLY.record(refused_cleanly=refused, traceback="Traceback" in out + err, changed=changed)
    assert refused and not changed, (code, out, err, changed)
    return err


BAD_LINES = ["garbage", "forged step", "image bytes not matching hash", "missing image"]


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("kind", BAD_LINES)
def test_a_folder_export_with_one_bad_line_imports_nothing_and_names_the_line(
    capsys, tmp_path, trio, target, kind, n
):
    root = tmp_path / "export"
    shutil.copytree(trio[0], root)
    _spoil_folder(root, n, kind, trio[2])
    err = _refused_whole(capsys, target, root)
    assert f"line {n} of" in err.lower(), err


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("kind", BAD_LINES)
def test_an_hf_export_with_one_bad_row_imports_nothing_and_names_the_row(
    capsys, tmp_path, trio, target, kind, n
):
    root = tmp_path / "hf"
    shutil.copytree(trio[1], root)
    _spoil_hf(root, n, kind)
    err = _refused_whole(capsys, target, root)
    assert f"row {n} of" in err.lower(), err


@pytest.mark.parametrize("name", ["folder", "hf"])
def test_the_same_session_twice_in_one_export_is_refused(capsys, tmp_path, trio, target, name):
    root = tmp_path / name
    shutil.copytree(trio[0] if name == "folder" else trio[1], root)
    if name == "folder":
        _spoil_folder(root, 2, "same session id twice", trio[2])
    else:
        _spoil_hf(root, 2, "same session id twice")
    err = _refused_whole(capsys, target, root)
    assert trio[2][1] in err and "twice" in err, err


@pytest.mark.parametrize(
    "kind", ["a step id of another line", "image sizes that lie", "a judgement id of another line"]
)
def test_a_folder_export_whose_lines_contradict_each_other_imports_nothing(
    capsys, tmp_path, trio, target, kind
):
    root = tmp_path / "export"
    shutil.copytree(trio[0], root)
    _spoil_folder(root, 2, kind, trio[2])
    err = _refused_whole(capsys, target, root)
    assert "line 2 of" in err.lower(), err


@pytest.mark.parametrize("name", ["folder", "hf"])
def test_a_good_export_of_several_sessions_imports_every_one_and_says_how_many(
    capsys, tmp_path, trio, target, name
):
    code, out, err = studio(
        capsys, "import", trio[0] if name == "folder" else trio[1], "--data-dir", target, "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert sorted(report["imported"]) == sorted(trio[2]) and report["judgements"] == 3
    code, out, err = studio(capsys, "import", trio[0], "--data-dir", target)
    assert code == 0 and out.count("already here") == 3, (out, err)
    store = Store(data_dir=target)
    try:
        assert len(store.list_sessions()) == 4
        for session_id in trio[2]:
            for ref in store.load(session_id).steps.values():
                assert ref.image is None or store.image_path(ref.image.sha256).is_file()
    finally:
        store.close()
    TALLY.record(refused_cleanly=False, should_refuse=False)


def test_a_failure_while_writing_the_second_session_leaves_no_session_and_no_new_file(
    tmp_path, trio, target, monkeypatch
):
    """The database stops taking rows in the middle of the import (a stand-in for a full disk or a
    killed connection): the sessions written before it are rolled back and the image files written
    for them removed, while the files the target already had (the origin's sketches, which the first
    session shares) stay."""
    from studio.store import steps as store_steps

    real, seen = store_steps.insert_step, []

    def failing(conn, step):
        if step.session_id not in seen:
            seen.append(step.session_id)
        if len(seen) == 2:
            raise RuntimeError("the database stopped taking rows")
        real(conn, step)

    monkeypatch.setattr(store_steps, "insert_step", failing)
    before = kit.snapshot(target)
    store = Store(data_dir=target)
    try:
        with pytest.raises(RuntimeError, match="stopped taking rows"):
            import_path(store, trio[0])
    finally:
        store.close()
    assert len(seen) == 2
    assert kit.snapshot(target) == before
    TALLY.record(refused_cleanly=True)


def _foreign_png(origin, *, lie_about_sizes: bool) -> bytes:
    """A PNG carrying a new session (fresh ids) whose steps name the origin's sketch images by hash;
    it carries only its own pixels, not those images."""
    from studio.core.codec import trajectory_to_dict
    from studio.core.untrusted import trajectory
    from studio.export.roundtrip import renumbered

    tree = trajectory_to_dict(renumbered(trajectory(_trajectory(origin))))
    tree["session"]["owner"] = "mallory"
    if lie_about_sizes:
        for step in tree["steps"]:
            if step.get("image"):
                step["image"].update(width=1, height=1, byte_size=1)
    return kit.stamped(
        {"format": pngmeta.KEYWORD.decode(), "version": 1, "trajectory": tree},
        kit.plain_png(16, (1, 2, 3)),
    )


@pytest.mark.parametrize("lie_about_sizes", [True, False])
def test_a_png_naming_another_sessions_image_is_refused_and_links_nothing(
    capsys, tmp_path, origin, target, lie_about_sizes
):
    png = _foreign_png(origin, lie_about_sizes=lie_about_sizes)
    code, out, err = attempt(capsys, target, png, tmp_path)
    assert "does not carry" in err, err
    path = tmp_path / "crafted.png"
    store = Store(data_dir=target)  # as the page imports it for a logged-in person
    try:
        with pytest.raises(Exception, match="does not carry"):
            import_path(store, path, owner="mallory")
        assert [s.id for s in store.list_sessions()] == [origin[1]]
    finally:
        store.close()
