"""`write_atomic`, which the image store, the GenEval layout and the UI's overlays all write through."""

from __future__ import annotations

import os

import pytest

from studio.core import files


def test_a_write_lands_whole_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "a" / "b" / "out.png"
    files.write_atomic(target, b"first")
    files.write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert os.listdir(target.parent) == ["out.png"]


def test_the_temporary_file_can_sit_elsewhere_and_is_gone_after(tmp_path):
    target = tmp_path / "mode" / "samples" / "0000.png"
    files.write_atomic(target, b"png", temp_dir=target.parent.parent)
    assert target.read_bytes() == b"png"
    assert sorted(os.listdir(target.parent.parent)) == ["samples"]


def test_a_failed_write_leaves_neither_the_target_nor_a_temporary_file(tmp_path, monkeypatch):
    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        files.write_atomic(tmp_path / "out.json", b"{}")
    assert os.listdir(tmp_path) == []
