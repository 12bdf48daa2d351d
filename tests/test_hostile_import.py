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

from studio import pngmeta
from studio.domain import trajectory_to_dict
from studio.export import import_path
from studio.store import Store

from . import hostile_kit as kit
from .cli_support import studio

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
    """Someone else's content under this session's id: imported as a new session; the old one is untouched."""
    forged = _edit(origin, lambda d: d["session"].update(prompt="a forged prompt", title="forged"))
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
