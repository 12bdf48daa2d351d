"""Launch options that expose the studio need a login; uploads are checked before they are read."""

from __future__ import annotations

import pytest
from PIL import Image

from studio.core.accounts import add_user
from studio.core.domain import StudioError
from studio.ui.serve import accounts_for, parse_args
from studio.ui.uploads import check_upload, region_mask


def test_the_studio_binds_localhost_without_a_login_by_default():
    args = parse_args([])
    assert args.host == "127.0.0.1" and accounts_for(args) is None


@pytest.mark.parametrize("argv", [["--share"], ["--host", "0.0.0.0"], ["--host", "192.0.2.10"]])
def test_an_exposed_studio_refuses_to_start_without_auth(argv):
    with pytest.raises(StudioError, match="--auth USER:PASSWORD"):
        accounts_for(parse_args(argv))


def test_auth_is_user_colon_password_and_makes_that_person_an_admin(capsys):
    accounts = accounts_for(parse_args(["--share", "--auth", "ana:s3cret:with:colons"]))
    assert accounts.check("ana", "s3cret:with:colons") and not accounts.check("ana", "s3cret")
    assert accounts.person("ana").role == "admin"
    with pytest.raises(StudioError, match="USER:PASSWORD"):
        accounts_for(parse_args(["--auth", "ana"]))


def test_an_auth_file_lets_in_its_people_with_their_roles(tmp_path):
    users = tmp_path / "users.toml"
    add_user(users, "ana", "correct-horse", role="admin")
    add_user(users, "ben", "battery-staple")
    assert "correct-horse" not in users.read_text()  # only argon2 hashes are stored
    accounts = accounts_for(parse_args(["--host", "0.0.0.0", "--auth-file", str(users)]))
    assert accounts.check("ben", "battery-staple") and not accounts.check("ben", "correct-horse")
    assert not accounts.check("zed", "battery-staple")
    assert (accounts.person("ana").role, accounts.person("ben").role) == ("admin", "annotator")
    add_user(users, "ben", "new-password-1")  # a second add changes ben and keeps ana
    again = accounts_for(parse_args(["--auth-file", str(users)]))
    assert again.names() == ["ana", "ben"] and again.check("ben", "new-password-1")


@pytest.mark.parametrize(
    "content, fix",
    [
        ("", "lists nobody"),
        ("[ana]\npassword = 'hunter22'\n", "argon2 password hash"),
        ("[ana]\npassword = '$argon2id$x'\nrole = 'boss'\n", "role must be one of"),
        ("[ana\n", "not valid TOML"),
        ("['bad name']\npassword = '$argon2id$x'\n", "user name"),
    ],
)
def test_a_broken_users_file_is_one_line_naming_the_fix(tmp_path, content, fix):
    users = tmp_path / "users.toml"
    users.write_text(content)
    with pytest.raises(StudioError, match=fix):
        accounts_for(parse_args(["--auth-file", str(users)]))
    with pytest.raises(StudioError, match="studio users add"):
        accounts_for(parse_args(["--auth-file", str(tmp_path / "missing.toml")]))


def test_auth_and_auth_file_together_are_refused(tmp_path):
    with pytest.raises(StudioError, match="not both"):
        accounts_for(
            parse_args(["--auth", "ana:s3cret12", "--auth-file", str(tmp_path / "u.toml")])
        )


def test_the_explicit_opt_out_warns(capsys):
    assert accounts_for(parse_args(["--host", "0.0.0.0", "--no-auth-on-network"])) is None
    assert "without a login" in capsys.readouterr().err


def test_uploads_must_be_real_images_of_sane_size(tmp_path):
    good = tmp_path / "ok.png"
    Image.new("RGB", (64, 48), "red").save(good)
    assert check_upload(good).size == (64, 48)

    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(StudioError, match="not an image"):
        check_upload(text)

    gif = tmp_path / "anim.gif"
    Image.new("P", (8, 8)).save(gif)
    with pytest.raises(StudioError, match="upload a PNG, JPEG or WebP"):
        check_upload(gif)

    huge = tmp_path / "huge.png"
    Image.new("1", (5000, 5000)).save(huge)  # a few KB on disk, 25 megapixels when decoded
    with pytest.raises(StudioError, match="limit is 4096×4096"):
        check_upload(huge)

    heavy = tmp_path / "heavy.png"
    heavy.write_bytes(b"\x89PNG" + b"\0" * (21 * 1024 * 1024))
    with pytest.raises(StudioError, match="up to 20 MB"):
        check_upload(heavy)


def test_a_painted_region_becomes_a_mask_the_size_of_the_image():
    import base64
    import io

    layer = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    layer.paste((255, 0, 0, 255), (0, 0, 50, 100))
    mask = region_mask(layer, (200, 200))
    assert mask.size == (200, 200) and mask.getbbox() == (0, 0, 100, 200)
    png = io.BytesIO()
    layer.save(png, format="PNG")  # what the page's canvas sends: a PNG data URL
    sent = region_mask(
        "data:image/png;base64," + base64.b64encode(png.getvalue()).decode(), (200, 200)
    )
    assert sent.tobytes() == mask.tobytes()
    assert region_mask(Image.new("RGBA", (10, 10)), (20, 20)) is None  # nothing painted: no region
    assert region_mask(None, (20, 20)) is None and region_mask("", (20, 20)) is None
    for bad in (
        "data:image/png;base64,not-base64!",
        "data:text/plain,hello",
        "/etc/passwd",
        "data:image/png;base64," + base64.b64encode(b"GIF89a....").decode(),
    ):
        with pytest.raises(StudioError):
            region_mask(bad, (20, 20))


def test_app_py_opens_the_studio_and_refuses_an_unprotected_share(tmp_path):
    """The README's first command, for real: a subprocess serving the page on a local port."""
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    root = Path(__file__).resolve().parents[2]
    refused = subprocess.run(
        [sys.executable, "app.py", "--share", "--data-dir", str(tmp_path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        refused.returncode == 1
        and "--auth USER:PASSWORD" in refused.stderr
        and "Traceback" not in refused.stderr
    )

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--data-dir", str(tmp_path)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.stderr.read()
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the studio did not start within 90 s"
                time.sleep(0.5)
        assert page.status_code == 200 and "Stroke Studio" in page.text
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_messages_for_a_browser_lose_database_urls_and_file_paths():
    from studio.ui.actions import clean

    said = clean(
        "Cannot open postgresql+psycopg://ana:secret@db.local/studio (see /srv/studio/sessions/studio.db)\n"
        "then try again"
    )
    assert "secret" not in said and "/srv/studio" not in said and "postgresql" not in said
    assert said.startswith("Cannot open …") and said.endswith("then try again") and "\n" not in said
    assert clean("The prompt is empty.") == "The prompt is empty."  # plain messages pass unchanged
