"""Fault injection through the page's own doors: its server functions (Gradio's
`POST /gradio_api/component_server`, which any logged-in person, or anyone without logins, can
call with any JSON) and /import_png, aimed at files on the server — the database and its WAL, a
studio PNG in the image folder, /etc/passwd, `..` paths, symlinks and a hard link planted in the
upload folder, an export zip. Every call is refused in one line that names no path, opens none of
those files (a Python audit hook watches every `open` in the server process), writes nothing, and
leaves a database that another process opens safely with every confirmed session still there after
a restart. Images and export zips reach a browser only through the studio's own routes, by hash and
by name: another person's private image is a 404, like a missing one, and no answer names the
data folder.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from studio import engines
from studio.core.accounts import Accounts, add_user
from studio.ui import api
from studio.ui.exports import exports_dir
from studio.ui.uploads import NOT_AN_UPLOAD, upload_folder

from ..kits import hostile_kit as kit
from ..kits.fakes import ScriptedEngine
from ..kits.ui_server import running_studio

ENGINE = "hostile-page"
TALLY = kit.Tally("page")
LEAKS = re.compile(r"(/tmp/|/work/|/home/|/etc/|/root/|sqlite:|postgresql|\.db\b|Traceback)")
PASSWORDS = {"ana": "ana-password-1", "ben": "ben-password-2", "root": "root-password-3"}

# -- watching the server process's opens ---------------------------------------------------------

_WATCH: dict[str, object] = {"on": False, "targets": set(), "opened": []}
_WATCH_LOCK = threading.Lock()


def _audit(event: str, args: tuple) -> None:
    """Record every `open` of a watched file (by its real path) while watching is on. The server
    runs in this process, so this sees what its threads open; SQLite's own C-level opens are not
    Python `open` events, so SQLAlchemy's connections do not count."""
    if event != "open" or not _WATCH["on"] or not args or not isinstance(args[0], (str, bytes)):
        return
    name = os.fsdecode(args[0])
    real = os.path.realpath(name)
    if any(real == t or real.startswith(t + os.sep) for t in _WATCH["targets"]):  # type: ignore[attr-defined]
        with _WATCH_LOCK:
            _WATCH["opened"].append(real)  # type: ignore[attr-defined]


sys.addaudithook(_audit)


class watching:
    """Within the block, opens of `targets` (files or folders, by real path) are recorded."""

    def __init__(self, targets):
        self.targets = {os.path.realpath(str(t)) for t in targets}

    def __enter__(self):
        _WATCH.update(on=True, targets=self.targets, opened=[])
        return self

    def __exit__(self, *exc):
        _WATCH["on"] = False

    @property
    def opened(self) -> list[str]:
        return list(_WATCH["opened"])  # type: ignore[call-overload]


# -- reaching the page's server functions ------------------------------------------------------


class Page:
    """The page's server functions, called the way its script calls them (`server.fn({...})`,
    an object of named fields)."""

    def __init__(self, url: str, http: httpx.Client | None = None):
        self.url, self.http = url, http or httpx.Client(timeout=60)
        config = self.http.get(f"{url}config").json()
        self.component = next(
            c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "studio"
        )
        self.session_hash = uuid.uuid4().hex[:10]

    def __call__(self, name: str, fields: object = None, **named) -> dict:
        """`page("rename", session_id=..., title=...)`; `fields` sends any JSON value as it is."""
        reply = self.http.post(
            f"{self.url}gradio_api/component_server",
            json={
                "session_hash": self.session_hash,
                "component_id": self.component,
                "fn_name": name,
                "data": named if fields is None else fields,
            },
        )
        assert reply.status_code == 200, (name, reply.status_code, reply.text[:300])
        return reply.json()


def api_import(url: str, path: str) -> str | None:
    """/import_png over plain HTTP naming a server-side file as the upload, as any client may send."""
    sent = {"path": path, "meta": {"_type": "gradio.FileData"}}
    started = httpx.post(f"{url}gradio_api/call/import_png", json={"data": [sent]}, timeout=60)
    reply = httpx.get(
        f"{url}gradio_api/call/import_png/{started.json()['event_id']}", timeout=60
    ).text
    kind, data = re.findall(r"^event: (\w+)\ndata: (.*)$", reply, re.M)[-1]
    return None if kind == "complete" else (json.loads(data) or {}).get("error") or "(no message)"


def state(data: Path) -> dict:
    """Database rows and image files (Gradio's upload folder and export zips are not data)."""
    return {k: v for k, v in kit.snapshot(data).items() if not k.startswith(".gradio")}


def one_clean_line(message, sent: str = "") -> bool:
    """One line that names no server path or URL (the caller's own text may be repeated back)."""
    if not isinstance(message, str) or not message or "\n" in message:
        return False
    if sent:
        message = message.replace(ascii(sent)[1:-1], "").replace(sent, "")
    return not LEAKS.search(message)


# -- the studio under attack ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    engines.register(ENGINE, ScriptedEngine)
    data = tmp_path_factory.mktemp("hostile-page") / "data"
    with running_studio(data, ENGINE) as (url, store):
        client = Client(url, verbose=False)
        view = client.predict(
            "a cat", ENGINE, 3, False, 2, "process", "{}", api_name="/new_session"
        )
        client.predict(view["session"]["id"], None, "never", api_name="/run")
        yield url, store, data, view["session"]["id"]
    engines.unregister(ENGINE)
    TALLY.save()


def server_side_paths(store, data: Path, session_id: str, planted: Path) -> dict[str, str]:
    """Files on the server a caller may name, and ways to name them from inside the upload folder."""
    final = store.image_path(store.load(session_id).head().image.sha256)
    database = data / "studio.db"
    upload = upload_folder()
    planted.mkdir(parents=True, exist_ok=True)
    for name, target in (("db.png", database), ("final.png", final), ("passwd.png", "/etc/passwd")):
        (planted / name).unlink(missing_ok=True)
        (planted / name).symlink_to(target)
    (planted / "images").unlink(missing_ok=True)
    (planted / "images").symlink_to(store.images_dir, target_is_directory=True)
    hard = planted / "hard-link.png"
    hard.unlink(missing_ok=True)
    try:
        os.link(final, hard)  # a second name for a studio PNG (and, the same way, for studio.db)
    except OSError:
        hard = None
    zip_path = next(iter(sorted(exports_dir().glob("*.zip"))), None)
    paths = {
        "the database": str(database),
        "its WAL": str(database) + "-wal",
        "its shared memory": str(database) + "-shm",
        "a studio PNG": str(final),
        "the image folder": str(store.images_dir),
        "/etc/passwd": "/etc/passwd",
        "a missing file": str(data / "no-such-file.png"),
        "`..` out of the upload folder": str(upload / ".." / ".." / "data" / "studio.db"),
        "`..` to the database": f"{upload}/{os.path.relpath(database, upload)}",
        "a relative path": "../studio.db",
        "a symlink to the database": str(planted / "db.png"),
        "a symlink to a studio PNG": str(planted / "final.png"),
        "a symlink to /etc/passwd": str(planted / "passwd.png"),
        "a PNG under a symlinked folder": str(planted / "images" / final.parent.name / final.name),
        "the upload folder itself": str(upload),
        "a missing upload": str(upload / "no-such-upload" / "final.png"),
        "a NUL in the path": str(database) + "\x00.png",
    }
    if hard is not None:
        paths["a hard link to a studio PNG"] = str(hard)
    if zip_path is not None:
        paths["an export zip"] = str(zip_path)
    return paths


def declared(name: str) -> list[str]:
    return [
        p.name for p in api.Declared(next(f for f in api.PAGE if f.__name__ == name)).parameters
    ]


def every_field(name: str, value: str) -> dict[str, str]:
    """Each of the function's fields set to `value`; a function without fields gets one it does
    not have."""
    return {field: value for field in declared(name) or ["path"]}


def test_every_page_server_function_refuses_server_side_paths_and_opens_none_of_them(
    studio, caplog, tmp_path
):
    url, store, data, session_id = studio
    page = Page(url)
    assert (
        "url"
        in page("export", session_id=session_id, format="folder", scope="this session")["result"]
    )
    paths = server_side_paths(store, data, session_id, upload_folder() / f"planted-{tmp_path.name}")
    names = [f.__name__ for f in api.PAGE]
    assert {"import_png", "open_session", "new_session", "export", "whoami"} <= set(names)
    before, sessions = state(data), store.count_sessions()
    watched = [data / "studio.db", data / "studio.db-wal", data / "studio.db-shm", store.images_dir]
    watched += ["/etc/passwd", exports_dir()]
    with watching(watched) as watch, caplog.at_level(logging.ERROR):
        for what, path in paths.items():
            for name in names:
                # every field the path (a function of no fields gets one too many)
                reply = page(name, every_field(name, path))
                refused = one_clean_line(reply.get("error"), path)
                TALLY.record(refused_cleanly=bool(refused), traceback=bool(caplog.records))
                assert refused, (name, what, reply)
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert watch.opened == [], f"the server opened {sorted(set(watch.opened))}"
    assert store.count_sessions() == sessions and state(data) == before


def test_import_png_gives_the_same_line_for_every_path_it_will_not_open(studio, tmp_path):
    """Whether the path exists, is a link, or is the database: one line, so the answer tells nothing."""
    url, store, data, session_id = studio
    page = Page(url)
    paths = server_side_paths(store, data, session_id, upload_folder() / f"planted-{tmp_path.name}")
    before = state(data)
    with watching([data / "studio.db", data / "studio.db-wal", store.images_dir]) as watch:
        lines = {what: page("import_png", path=path)["error"] for what, path in paths.items()}
    changed = state(data) != before
    for line in lines.values():
        TALLY.record(refused_cleanly=line == NOT_AN_UPLOAD, changed=changed)
    assert set(lines.values()) == {NOT_AN_UPLOAD}, lines
    assert watch.opened == [] and state(data) == before


def test_the_http_import_refuses_server_side_paths_without_opening_them(studio, tmp_path):
    """/import_png names its file as Gradio's FileData; Gradio refuses a path outside its upload
    folder before the studio sees it and before opening it, repeating only what was sent (made
    absolute; with show_error off, as app.py runs, it says no more than "error"); a path inside it
    reaches the studio, which gives its own line."""
    url, store, data, session_id = studio
    paths = server_side_paths(store, data, session_id, upload_folder() / f"planted-{tmp_path.name}")
    paths.pop("a NUL in the path")  # not JSON a FileData path can carry to Gradio
    before, sessions = state(data), store.count_sessions()
    with watching([data / "studio.db", data / "studio.db-wal", store.images_dir]) as watch:
        for what, path in paths.items():
            message = api_import(url, path)
            rest = (message or "").replace(path, "").replace(os.path.abspath(path), "")
            clean = bool(message) and "\n" not in rest and not LEAKS.search(rest)
            TALLY.record(refused_cleanly=clean)
            assert clean, (what, message)
    assert watch.opened == []
    assert store.count_sessions() == sessions and state(data) == before


def test_a_png_dropped_on_the_page_or_uploaded_to_the_api_still_reopens_its_session(
    studio, tmp_path
):
    from gradio_client import handle_file

    url, store, data, session_id = studio
    final = store.image_path(store.load(session_id).head().image.sha256)
    copy = tmp_path / "final.png"
    copy.write_bytes(final.read_bytes())
    view = Client(url, verbose=False).predict(handle_file(str(copy)), api_name="/import_png")
    assert view["session"]["id"] == session_id and "reopened" in view["note"]
    uploaded = httpx.post(
        f"{url}gradio_api/upload", files={"files": ("final.png", copy.read_bytes())}
    )
    [path] = uploaded.json()  # what the page's `upload(file)` gets back, then sends to import_png
    reply = Page(url)("import_png", path=path)
    assert reply["error"] is None and reply["session"]["id"] == session_id


def sessions_in_another_process(data: Path) -> subprocess.CompletedProcess:
    """`studio sessions --json` run by a second process on the server's data folder."""
    return subprocess.run(
        [sys.executable, "-m", "studio", "sessions", "--data-dir", str(data), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_after_hostile_calls_another_process_opens_the_database_and_nothing_is_lost(tmp_path):
    """The data-loss case of issue 20: the page pointed at studio.db, then `studio sessions` in
    another process while the server keeps writing; after a restart every confirmed session is there."""
    engines.register(ENGINE + "-loss", ScriptedEngine)
    data = tmp_path / "data"
    confirmed: list[str] = []
    try:
        with running_studio(data, ENGINE + "-loss") as (url, store):
            client, page = Client(url, verbose=False), Page(url)

            def write(count: int) -> None:
                for i in range(count):
                    view = client.predict(
                        f"a cat {len(confirmed)}",
                        ENGINE + "-loss",
                        i,
                        False,
                        2,
                        "process",
                        "{}",
                        api_name="/new_session",
                    )
                    confirmed.append(view["session"]["id"])

            write(5)
            for path in (data / "studio.db", data / "studio.db-wal", data / "studio.db-shm"):
                for name in ("import_png", "open_session", "list_sessions", "export"):
                    page(name, every_field(name, str(path)))
                assert api_import(url, str(path))
            listed = sessions_in_another_process(data)
            assert listed.returncode == 0, listed.stderr
            assert len(json.loads(listed.stdout)) == 5
            write(10)  # the server goes on writing after the other process closed the database
            listed = sessions_in_another_process(data)
            assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 15, listed.stderr
            write(5)
        from studio.store import Store

        again = Store(data_dir=data)
        try:
            kept = {s.id for s in again.list_sessions(limit=1000)}
        finally:
            again.close()
    finally:
        engines.unregister(ENGINE + "-loss")
    lost = [s for s in confirmed if s not in kept]
    TALLY.record(refused_cleanly=True, should_refuse=True, changed=bool(lost))
    assert len(confirmed) == 20 and lost == []


# -- images and export zips through the studio's own routes ----------------------------------------


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    users = tmp_path_factory.mktemp("users") / "users.toml"
    for name, password in PASSWORDS.items():
        add_user(users, name, password, role="admin" if name == "root" else "annotator")
    engines.register(ENGINE + "-people", ScriptedEngine)
    data = tmp_path_factory.mktemp("hostile-page-people") / "data"
    with running_studio(data, ENGINE + "-people", Accounts.load(users)) as (url, store):
        yield url, store, data
    engines.unregister(ENGINE + "-people")


def logged_in(url: str, name: str) -> httpx.Client:
    http = httpx.Client(base_url=url, timeout=60)
    assert (
        http.post("login", data={"username": name, "password": PASSWORDS[name]}).status_code < 400
    )
    return http


def test_a_private_image_is_a_404_for_another_person_and_no_answer_names_the_data_folder(people):
    url, store, data = people
    answers: list = []
    views = {}
    for seed, name in enumerate(("ana", "ben")):
        client = Client(url, auth=(name, PASSWORDS[name]), verbose=False)
        view = client.predict(
            f"{name}'s cat",
            ENGINE + "-people",
            seed,
            False,
            2,
            "process",
            "{}",
            api_name="/new_session",
        )
        views[name] = client.predict(view["session"]["id"], None, "never", api_name="/run")
        answers += [view, views[name], client.predict("", api_name="/list_sessions")]
    http = {name: logged_in(url, name) for name in PASSWORDS}
    nobody = httpx.Client(base_url=url, timeout=60)
    ben_images = sorted({c["image"] for c in views["ben"]["cards"].values() if c.get("image")})
    ana_images = sorted(  # the same picture in both sessions would be one file, ben's too
        {c["image"] for c in views["ana"]["cards"].values() if c.get("image")} - set(ben_images)
    )
    assert ana_images and all(u.startswith("/studio/image/") for u in ana_images + ben_images)

    def status(who: httpx.Client, image: str) -> int:
        code = who.get(image).status_code
        TALLY.record(
            refused_cleanly=code == 404, should_refuse=who not in (http["ana"], http["root"])
        )
        return code

    for image in ana_images:
        assert (
            status(http["ana"], image) == 200 and http["ana"].get(image).content[:4] == b"\x89PNG"
        )
        assert status(http["root"], image) == 200  # an admin sees every session
        assert status(http["ben"], image) == 404
        assert nobody.get(image).status_code == 404
    assert http["ben"].get(ben_images[0]).status_code == 200
    missing = http["ana"].get("/studio/image/" + "0" * 64 + ".png")
    forbidden = http["ben"].get(ana_images[0])
    assert (missing.status_code, missing.text) == (forbidden.status_code, forbidden.text)
    for bad in (
        "../studio.db",
        "%2e%2e%2fstudio.db",
        "ABC.png",
        ana_images[0].rsplit("/", 1)[1][:-4],
    ):
        assert http["ana"].get(f"/studio/image/{bad}").status_code == 404
    final = store.image_path(ana_images[0][len("/studio/image/") : -len(".png")])
    assert http["ana"].get(f"/gradio_api/file={final}").status_code in (403, 404)  # not served

    page = Page(url, http["ana"])
    answers += [
        page("open_session", session_id=views["ana"]["session"]["id"], step_id="", have=[]),
        page("list_sessions", search="", batch=""),
    ]
    exported = page(
        "export", session_id=views["ana"]["session"]["id"], format="folder", scope="this session"
    )["result"]
    answers.append(exported)
    assert http["ana"].get(exported["url"]).content[:2] == b"PK"
    assert http["ben"].get(exported["url"]).status_code == 404
    assert nobody.get(exported["url"]).status_code == 404
    shared = page(
        "share", session_id=views["ana"]["session"]["id"], version=None, shared=True, have=[]
    )
    answers.append(shared)
    assert http["ben"].get(ana_images[0]).status_code == 200  # shared with the team: ben sees it
    text = json.dumps(answers)
    for folder in {str(data), str(data.resolve()), str(upload_folder())}:
        assert folder not in text


def test_a_page_call_is_an_object_of_named_fields_and_anything_else_is_refused_in_one_line(studio):
    """The page's script sends each action's fields by name; a list of values (a page from before)
    is told to reload, an unknown name is named, nothing is changed."""
    url, store, data, session_id = studio
    page = Page(url)
    before = state(data)
    listed = page("rename", [session_id, None, "renamed", []])["error"]
    assert listed == "rename takes named fields, not a list of values; reload the page."
    misspelt = page("rename", session_id=session_id, titel="renamed")["error"]
    assert misspelt == "rename has no field 'titel' (its fields: session_id, version, title, have)."
    assert (
        page("whoami", {"/etc/passwd": 1})["error"] == "whoami has no such field (it takes none)."
    )
    assert "takes an object of named fields, not str" in page("list_sessions", "cats")["error"]
    assert state(data) == before
    renamed = page("rename", session_id=session_id, title="renamed", have=[])
    assert renamed["error"] is None and renamed["session"]["title"] == "renamed"
