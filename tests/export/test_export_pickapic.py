"""The `pickapic` export, read as diffusers' Diffusion-DPO example reads Pick-a-Pic.

The example (huggingface/diffusers, examples/research_projects/diffusion_dpo/train_diffusion_dpo.py;
lines 446-456 and 665-699 at commit 58eb52c) calls `load_dataset(args.dataset_name, split=...)`,
then in `preprocess_train` opens `jpg_0`/`jpg_1`
with `Image.open(io.BytesIO(im_bytes)).convert("RGB")`, swaps the two when `label_0 == 0` (the
preferred image goes first), concatenates them on the channel axis and tokenizes `caption`
(`tokenize_captions`: padding="max_length", truncation). `preprocess` below does the same on the
CPU; torchvision's Resize/ToTensor/Normalize become PIL + torch (torchvision does not load beside
the CPU torch here), which changes no value the export controls.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from studio.core.domain import local_user
from studio.export import export

from .test_export_support import plain, steered

pytestmark = pytest.mark.backends


def preprocess(examples, tokenizer, resolution=16):
    """train_diffusion_dpo.py's preprocess_train, minus torchvision."""
    import torch

    def to_tensor(image):
        array = (
            np.asarray(image.resize((resolution, resolution), Image.BILINEAR), dtype=np.float32)
            / 255.0
        )
        return (torch.from_numpy(array).permute(2, 0, 1) - 0.5) / 0.5

    all_pixel_values = []
    for col_name in ["jpg_0", "jpg_1"]:
        images = [
            Image.open(io.BytesIO(im_bytes)).convert("RGB") for im_bytes in examples[col_name]
        ]
        all_pixel_values.append([to_tensor(image) for image in images])
    combined = []
    for im_tup, label_0 in zip(zip(*all_pixel_values), examples["label_0"]):
        if label_0 == 0:
            im_tup = im_tup[::-1]
        combined.append(torch.cat(im_tup, dim=0))
    examples["pixel_values"] = combined
    examples["input_ids"] = tokenizer(
        examples["caption"],
        truncation=True,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        return_tensors="pt",
    ).input_ids
    return examples


@pytest.fixture
def judged(runner, scripted):
    """A steered session, judged: bob accepts the redraw, alice and bob prefer the refine, carol calls a tie,
    alice rates the round-1 sketches; dave rates the finals of two sessions of another prompt."""
    s = steered(runner, scripted)
    t = s.trajectory
    runner.accept(t, s.sketch1.id, by="bob")
    for person in ("alice", "bob"):
        runner.prefer(t, s.sketch2.id, s.refine2.id, "right", by=person)
    runner.prefer(t, s.refine1.id, s.sketch1.id, "tie", by="carol")
    runner.rate(t, s.sketch1.id, "up", by="alice")
    runner.rate(t, s.rejected.id, "down", by="alice")
    low, high = plain(runner, "a red apple", seed=1), plain(runner, "a red apple", seed=2)
    runner.rate(low, low.head().id, "2", by="dave")
    runner.rate(high, high.head().id, "4", by="dave")
    return s, low, high


def _load(out, split="train"):
    from datasets import load_dataset

    # a local folder, as --dataset_name would name it; a fresh cache: the shared one keys by folder name
    return load_dataset(str(out), split=split, cache_dir=str(out.parent / "hf-cache"))


def test_pairs_come_from_redraws_preferences_and_ratings_once_each(store, judged, tmp_path):
    s, low, high = judged
    out = tmp_path / "pap"
    export(store, "pickapic", out, val_fraction=0.0)
    rows = {(r["step_0"], r["step_1"]): r for r in _load(out)}
    assert set(rows) == {
        (s.rejected.id, s.sketch1.id),
        (s.sketch2.id, s.refine2.id),
        (low.head().id, high.head().id),
    }
    redraw = rows[(s.rejected.id, s.sketch1.id)]  # also alice's rating: one pair, both sources
    assert redraw["label_0"] == 0.0 and redraw["label_1"] == 1.0
    assert redraw["sources"] == ["rating", "redraw"] and redraw["source"] == "rating,redraw"
    assert redraw["annotators"] == sorted({"alice", "bob", local_user()})
    assert redraw["caption"] == s.plan1.description  # the scene both sketches were drawn for
    preferred = rows[(s.sketch2.id, s.refine2.id)]  # alice and bob said the same: one pair
    assert preferred["annotator"] == "alice,bob" and preferred["label_0"] == 0.0
    assert len(preferred["judgement_ids"]) == 2
    finals = rows[(low.head().id, high.head().id)]
    assert (
        finals["caption"] == "a red apple"
        and finals["label_0"] == 0.0
        and finals["annotator"] == "dave"
    )
    assert sorted(finals["session_ids"]) == sorted([low.session.id, high.session.id])
    manifest = (out / "manifest.json").read_text()
    assert (
        '"ties_left_out": 1' in manifest
    )  # carol's tie: the script would train it as "jpg_0 wins"


def test_images_are_jpeg_bytes_of_the_stored_images(store, judged, tmp_path):
    s, _, _ = judged
    out = tmp_path / "pap"
    export(store, "pickapic", out, val_fraction=0.0)
    dataset = _load(out)
    assert (
        dataset.features["jpg_0"].dtype == "binary"
        and dataset.features["label_0"].dtype == "float64"
    )
    row = next(r for r in dataset if r["step_0"] == s.rejected.id)
    assert row["jpg_0"][:3] == b"\xff\xd8\xff"  # JPEG, as Pick-a-Pic ships them
    for column, step in (("jpg_0", s.rejected), ("jpg_1", s.sketch1)):
        stored = np.asarray(
            Image.open(store.image_path(step.image.sha256)).convert("RGB"), dtype=np.int16
        )
        exported = np.asarray(Image.open(io.BytesIO(row[column])).convert("RGB"), dtype=np.int16)
        assert (
            exported.shape == stored.shape and np.abs(exported - stored).mean() < 4
        )  # quality-95 JPEG


def test_the_dpo_scripts_preprocessing_puts_the_preferred_image_first(store, judged, tmp_path):
    from ..kits.gpu_fakes import clip_tokenizer

    s, _, _ = judged
    out = tmp_path / "pap"
    export(store, "pickapic", out, val_fraction=0.0)
    from datasets import load_dataset

    files = sorted(str(p) for p in (out / "data").glob("train-*.parquet"))
    dataset = load_dataset(
        "parquet", data_files={"train": files}, split="train", cache_dir=str(tmp_path / "hf-cache")
    )
    tokenizer = clip_tokenizer(max_len=32)
    batch = preprocess(dataset[:], tokenizer)
    assert len(batch["pixel_values"]) == len(dataset) == 3
    assert all(p.shape == (6, 16, 16) for p in batch["pixel_values"]) and batch[
        "input_ids"
    ].shape == (3, 32)
    index = dataset["step_0"].index(s.rejected.id)  # label_0 0: the redraw (jpg_1) goes first
    redraw = Image.open(store.image_path(s.sketch1.image.sha256)).convert("RGB")
    expected = np.asarray(redraw.resize((16, 16), Image.BILINEAR), dtype=np.float32) / 255.0 * 2 - 1
    first = batch["pixel_values"][index][:3].permute(1, 2, 0).numpy()
    assert np.abs(first - expected).mean() < 0.05


def test_a_session_without_judgements_or_redraws_gives_an_empty_loadable_export(
    store, runner, scripted, tmp_path
):
    plain(runner)
    out = tmp_path / "pap"
    report = export(store, "pickapic", out, val_fraction=0.0)
    assert report.files == ["README.md", "manifest.json"]
    assert '"written": 0' in (out / "manifest.json").read_text()


def test_the_jpeg_cache_encodes_once_and_stays_bounded():
    from studio.export.formats.pickapic import JpegCache

    reads = []

    def read(sha):
        reads.append(sha)
        out = io.BytesIO()
        Image.new("RGB", (4, 4), (len(reads), 0, 0)).save(out, format="PNG")
        return out.getvalue()

    cache = JpegCache(read, size=2)
    first = cache("a")
    assert cache("a") == first and reads == ["a"]
    cache("b"), cache("c")  # "a" is the oldest: dropped
    assert list(cache.done) == ["b", "c"]
    cache("a")
    assert reads == ["a", "b", "c", "a"]
