"""The `pickapic` export, read and preprocessed by diffusers' Diffusion-DPO example itself.

The example (huggingface/diffusers, examples/research_projects/diffusion_dpo/train_diffusion_dpo.py at
commit 58eb52c, in ../shared/third_party/diffusers_dpo; tests/kits/upstream.py) loads the dataset with
`load_dataset(args.dataset_name, split=...)`, sets `preprocess_train` as its transform and batches with
`collate_fn`; its training loop splits each batch's pixel values into the preferred ("w") and the other
("l") image. Those pieces are defined inside the script's `main()`, so `dpo_script` below takes them out
of the script's source with `ast` — the statements as upstream wrote them, compiled under the script's
own file name — and runs them in a namespace built from the script's own module-level imports. Three
of those imports are not in the studio's environment, and stand-ins take their place, for this test only:

- `wandb` and `peft` (experiment logging; LoRA set-up and saving): the preprocessing never calls them;
  any use raises.
- torchvision's `transforms`: the registry's torchvision 0.28.0 wheel does not load beside the CPU
  torch 2.13.0 here ("operator torchvision::nms does not exist"; ../shared/notes/stack.md), and no CPU
  build of it is on the machine. `_Transforms` stands in for the pieces the script's
  `train_transforms` uses with `--no_hflip` and without `--random_crop`: Compose, Resize (shorter side to
  the resolution, PIL bilinear, as torchvision resizes a PIL image), CenterCrop (torchvision's rounding),
  Lambda, ToTensor (HWC uint8 -> CHW float in [0, 1]) and Normalize. A random flip or crop would move
  pixels, never swap the two images of a pair, so the deterministic options lose nothing the export
  controls.
"""

from __future__ import annotations

import ast
import builtins
import io
import types

import numpy as np
import pytest
from PIL import Image

from studio.core.domain import local_user
from studio.export import export

from ..kits import upstream
from .test_export_support import plain, steered

pytestmark = pytest.mark.backends

RESOLUTION = 16


class _Transforms:
    """Stands in for `torchvision.transforms` (see the module docstring): only what the script's
    `train_transforms` builds with --no_hflip and without --random_crop."""

    class InterpolationMode:
        BILINEAR = Image.BILINEAR

    class Compose:
        def __init__(self, transforms):
            self.transforms = transforms

        def __call__(self, image):
            for transform in self.transforms:
                image = transform(image)
            return image

    class Resize:
        def __init__(self, size, interpolation):
            self.size, self.interpolation = size, interpolation

        def __call__(self, image):
            w, h = image.size
            short, long = (w, h) if w <= h else (h, w)
            new_short, new_long = self.size, int(self.size * long / short)
            size = (new_short, new_long) if w <= h else (new_long, new_short)
            return image.resize(size, self.interpolation)

    class CenterCrop:
        def __init__(self, size):
            self.size = size

        def __call__(self, image):
            w, h = image.size
            top, left = int(round((h - self.size) / 2.0)), int(round((w - self.size) / 2.0))
            return image.crop((left, top, left + self.size, top + self.size))

    class Lambda:
        def __init__(self, fn):
            self.fn = fn

        def __call__(self, image):
            return self.fn(image)

    class ToTensor:
        def __call__(self, image):
            import torch

            array = np.array(image, dtype=np.uint8, copy=True)
            return torch.from_numpy(array).permute(2, 0, 1).contiguous().float().div(255)

    class Normalize:
        def __init__(self, mean, std):
            self.mean, self.std = mean, std

        def __call__(self, tensor):
            import torch

            mean = torch.as_tensor(self.mean, dtype=tensor.dtype)[:, None, None]
            std = torch.as_tensor(self.std, dtype=tensor.dtype)[:, None, None]
            return (tensor - mean) / std


def _unused(name: str) -> types.ModuleType:
    """Stands in for a module the preprocessing never uses (`wandb`, `peft`): any use raises."""
    module = types.ModuleType(name)

    def missing(attribute):
        if attribute.startswith("__"):
            raise AttributeError(attribute)

        def called(*args, **kwargs):
            raise AssertionError(f"the stand-in for {name} was used: {attribute}")

        return called

    module.__getattr__ = missing  # type: ignore[method-assign]
    return module


STAND_INS = {
    "wandb": _unused("wandb"),
    "peft": _unused("peft"),
    "peft.utils": _unused("peft.utils"),
    "torchvision": types.SimpleNamespace(transforms=_Transforms),
}

# what the test takes out of the script: from main(), and the training loop's split of a batch
FROM_MAIN = ("train_transforms", "preprocess_train", "collate_fn")
TRAINING_SPLIT = "feed_pixel_values"


def _named(node: ast.stmt) -> str | None:
    if isinstance(node, ast.FunctionDef):
        return node.name
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    return None


def dpo_script(tokenizer) -> dict:
    """The Diffusion-DPO script's own preprocessing, as a namespace: `tokenize_captions`,
    `train_transforms`, `preprocess_train` and `collate_fn` from its source, run over its module-level
    imports (stand-ins for wandb, peft and torchvision), with `args` and `tokenizer` as main() has them;
    `split(pixel_values)` runs the training loop's own `feed_pixel_values = ...` line."""
    path = upstream.DIFFUSION_DPO.require() / "train_diffusion_dpo.py"
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    helpers = [n for n in tree.body if _named(n) == "tokenize_captions"]
    inner = [n for n in main.body if _named(n) in FROM_MAIN]
    assert sorted(_named(n) for n in inner) == sorted(FROM_MAIN), "the script's main() changed"
    [split] = [
        n for n in ast.walk(main) if isinstance(n, ast.Assign) and _named(n) == TRAINING_SPLIT
    ]

    def importer(name, globals=None, locals=None, fromlist=(), level=0):
        if name in STAND_INS:
            return STAND_INS[name]
        return builtins.__import__(name, globals, locals, fromlist, level)

    namespace: dict = {
        "__builtins__": {**vars(builtins), "__import__": importer},
        "__name__": "train_diffusion_dpo",
        "args": types.SimpleNamespace(resolution=RESOLUTION, random_crop=False, no_hflip=True),
        "tokenizer": tokenizer,
    }
    code = compile(ast.Module(body=imports + helpers + inner, type_ignores=[]), str(path), "exec")
    exec(code, namespace)  # noqa: S102 - the upstream script's own statements, from its file
    step = compile(ast.Module(body=[split], type_ignores=[]), str(path), "exec")

    def split_batch(pixel_values):
        scope = {**namespace, "pixel_values": pixel_values}
        exec(step, scope)  # noqa: S102
        return scope[TRAINING_SPLIT]

    namespace["split"] = split_batch
    return namespace


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


def _off(store, pixels, step) -> float:
    """How far the script's pixel values (CHW, in [-1, 1]) are from a stored image at RESOLUTION²
    (mean absolute difference; JPEG costs about 0.01)."""
    image = Image.open(store.image_path(step.image.sha256)).convert("RGB")
    array = np.asarray(image.resize((RESOLUTION, RESOLUTION), Image.BILINEAR), dtype=np.float32)
    return float(np.abs(pixels.numpy() - (array / 255.0 * 2 - 1).transpose(2, 0, 1)).mean())


def test_the_dpo_scripts_own_preprocessing_trains_the_preferred_image_as_the_winner(
    store, judged, tmp_path
):
    import torch

    from ..kits.gpu_fakes import clip_tokenizer

    tokenizer = clip_tokenizer(max_len=32)
    script = dpo_script(tokenizer)  # first: without the script, the test skips with the how-to
    s, low, high = judged
    out = tmp_path / "pap"
    export(store, "pickapic", out, val_fraction=0.0)
    dataset = _load(out).with_transform(script["preprocess_train"])  # as the script sets it
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=len(dataset), shuffle=False, collate_fn=script["collate_fn"]
    )
    [batch] = list(loader)
    rows = _load(out)
    n = len(rows)
    assert n == 3 and batch["pixel_values"].shape == (n, 6, RESOLUTION, RESOLUTION)
    assert torch.equal(batch["input_ids"], script["tokenize_captions"](tokenizer, rows[:]))
    feed = script["split"](batch["pixel_values"])  # (2n, 3, h, w): the n winners, then the n losers
    steps = {step.id: step for step in store.load(s.trajectory.session.id).steps.values()}
    for other in (low, high):
        steps.update(store.load(other.session.id).steps)
    for index, row in enumerate(rows):
        preferred, other = (
            (row["step_0"], row["step_1"])
            if row["label_0"] == 1.0
            else (row["step_1"], row["step_0"])
        )
        won, lost = feed[index], feed[n + index]
        assert _off(store, won, steps[preferred]) < 0.05, row["source"]
        assert _off(store, lost, steps[other]) < 0.05, row["source"]
        assert float((won - lost).abs().mean()) > 0.1  # two different images: the order is tested
    redraw = rows["step_1"].index(s.sketch1.id)  # the redraw against the image a person rejected
    assert rows[redraw]["step_0"] == s.rejected.id
    assert _off(store, feed[redraw], s.sketch1) < 0.05  # the redraw is the winner ("w")
    assert _off(store, feed[n + redraw], s.rejected) < 0.05


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
