"""Test-only stand-in for decord (video decoding; no wheel for this Python): BAGEL's data/video_utils.py
imports it at module level, and data/dataset_base.py imports that. The tests read no video."""


class VideoReader:
    def __init__(self, *args, **kwargs):
        raise RuntimeError("decord stand-in: the tests read no video")


def cpu(*args, **kwargs):
    """transformers' image_utils imports `VideoReader, cpu` once it finds a decord on the path."""
    raise RuntimeError("decord stand-in: the tests read no video")


def __getattr__(name):
    raise AttributeError(f"decord stand-in has no {name}: the tests read no video")
