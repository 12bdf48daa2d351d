"""Each export format, read back the way its consumers read it (pyarrow, json, `datasets`)."""

from __future__ import annotations

import base64
import json

import pyarrow.parquet as pq
import pytest
from PIL import Image

from studio.core.domain import Stage
from studio.engines.bagel import transcript
from studio.export import export
from studio.export.select import split_of

from .test_export_support import jsonl, plain, steered, tree

pytestmark = pytest.mark.backends  # each test's store on SQLite and on PostgreSQL


@pytest.fixture
def session(runner, scripted):
    return steered(runner, scripted)


def test_bagel_rows_are_conversations_with_loss_flags_and_a_parquet_info(store, session, tmp_path):
    out = tmp_path / "bagel"
    export(store, "bagel", out, val_fraction=0.0)
    info = json.loads((out / "parquet_info.json").read_text())
    # relative to the folder, as BAGEL's loaders join them: a copied export still loads
    assert info == {"train/part-00000.parquet": {"num_row_groups": 1, "num_rows": 1}}
    dataset = json.loads((out / "dataset_info.json").read_text())["stroke_studio_train"]
    assert dataset["data_dir"] == "train" and dataset["num_files"] == 1
    assert dataset["parquet_info_path"] == "parquet_info.json"
    table = pq.read_table(out / "train" / "part-00000.parquet")
    assert table.column_names == [
        "id",
        "session_id",
        "prompt",
        "engine",
        "human",
        "conversation",
        "provenance",
        "annotators",
    ]
    assert pq.ParquetFile(out / "train" / "part-00000.parquet").metadata.num_row_groups == 1
    row = table.to_pylist()[0]
    system, user, assistant = json.loads(row["conversation"])
    assert system == {"role": "user", "content": transcript.SYSTEM, "need_loss": False}
    assert user == {"role": "user", "content": "Prompt: a cat and a dog", "need_loss": False}
    assert assistant["role"] == "assistant"
    content = assistant["content"]
    assert content[0]["need_loss"] is False and content[0]["content"].startswith("Plan step 1 of")
    assert content[1] == {
        "type": "text",
        "content": "<ins>draw a tabby cat</ins><des>a cat</des><done>no</done>",
        "need_loss": True,
    }
    rejected, request, critique, asked, redraw = content[2:7]
    assert request == {"type": "text", "content": transcript.INSPECT_REQUEST, "need_loss": False}
    assert {k: rejected[k] for k in ("type", "need_loss", "need_vae", "need_vit")} == {
        "type": "image",
        "need_loss": False,
        "need_vae": False,
        "need_vit": True,
    }
    assert (
        critique
        == {  # as the engine's redraw context holds it: no inspect judged the plan before
            "type": "text",
            "content": "<plan>yes</plan><sketch>no: too dark</sketch>",
            "need_loss": True,
        }
    )
    assert asked == {  # the engine's request for a redraw that answers the reason
        "type": "text",
        "content": transcript.redraw_request(Stage.SKETCH, "too dark"),
        "need_loss": False,
    }
    assert (redraw["need_loss"], redraw["need_vae"], redraw["need_vit"]) == (True, True, True)
    provenance = json.loads(row["provenance"])
    assert len(provenance) == len(content) and provenance[1]["original"] == {
        "instruction": "draw a cat"
    }


def test_bagel_images_are_the_stored_png_bytes_unchanged(store, session, tmp_path):
    export(store, "bagel", tmp_path / "bagel", val_fraction=0.0)
    row = pq.read_table(tmp_path / "bagel" / "train" / "part-00000.parquet").to_pylist()[0]
    images = [c for c in json.loads(row["conversation"])[-1]["content"] if c["type"] == "image"]
    expected = [
        session.rejected,
        session.sketch1,
        session.refine1,
        session.sketch2,
        session.refine2,
    ]
    assert [base64.b64decode(c["content"]) for c in images] == [
        store.image_path(s.image.sha256).read_bytes() for s in expected
    ]


def test_think_trace_lines_mark_each_image_and_name_its_file(store, session, tmp_path):
    out = tmp_path / "tt"
    export(store, "think-trace", out, val_fraction=0.0)
    [line] = jsonl(out / "train" / "think_trace.jsonl")
    assert line["Question"] == "a cat and a dog"
    trace = line["Text Reasoning Trace"].splitlines()
    assert trace[0] == "THOUGHT 1: <ins>draw a tabby cat</ins><des>a cat</des><done>no</done>"
    # the format has no "seen, not learned": the rejected draft stays out, the person's reason is learned
    assert trace[1] == (
        "THOUGHT 2: <plan>yes</plan><sketch>no: too dark</sketch> "
        "<image_start>[reasoning_image_1]<image_end>"
    )
    assert line["Final Answer"] == "<final/>"  # the answer is the trace's last image: the final one
    names = [line[f"reasoning_image_{n}"] for n in range(1, 6)]
    assert names == [
        f"images/{s.image.sha256}.png"
        for s in (session.sketch1, session.refine1, session.sketch2, session.refine2, session.final)
    ]
    assert all(
        (out / name).read_bytes() == store.image_path(name[7:71]).read_bytes() for name in names
    )
    assert "reasoning_image_6" not in line


def test_vlm_sft_lines_are_the_engines_inspections_with_full_verdicts(store, session, tmp_path):
    out = tmp_path / "vlm"
    export(store, "vlm-sft", out, val_fraction=0.0)
    lines = jsonl(out / "train" / "inspect.jsonl")
    failed = next(a for a in lines if a["id"] == session.inspect1.id)
    question, answer = (c["value"] for c in failed["conversations"])
    assert question.startswith(transcript.SYSTEM + "\nPrompt: a cat and a dog\n")
    assert "<ins>draw a tabby cat</ins>" in question
    assert question.endswith("<image>\n" + transcript.INSPECT_REQUEST)
    assert answer == (
        "<plan>yes: The plan matches the prompt.</plan><sketch>no: Something is missing.</sketch>"
    )
    assert (out / failed["image"]).read_bytes() == store.image_path(
        session.sketch1.image.sha256
    ).read_bytes()
    overridden = next(a for a in lines if a["id"] == session.inspect2.id)
    assert (
        "<plan>no: WRONG is not in the prompt; drop it.</plan>"
        in overridden["conversations"][1]["value"]
    )
    reject = next(a for a in lines if a["id"] == session.rejected.id)
    assert reject["conversations"][1]["value"].endswith("<sketch>no: too dark</sketch>")


def test_hf_parquet_loads_with_datasets_and_images_decode(store, session, tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "hf"
    export(store, "hf", out, val_fraction=0.0)
    schema = pq.read_schema(out / "alignment" / "train-00000-of-00001.parquet")
    assert schema.field("image").type.names == ["bytes", "path"]
    loaded = datasets.load_dataset(
        "parquet",
        data_files={"train": str(out / "alignment" / "train-*.parquet")},
        cache_dir=str(tmp_path / "cache"),
    )["train"]
    assert isinstance(loaded.features["image"], datasets.Image)
    first = loaded[0]
    assert isinstance(first["image"], Image.Image) and first["image"].size == (32, 32)
    assert first["label"] == "negative" and first["source"] == "review"
    turns = datasets.load_dataset(
        "parquet",
        data_files={"train": str(out / "multi_turn" / "*.parquet")},
        cache_dir=str(tmp_path / "cache"),
    )["train"][0]
    assert len(turns["images"]) == 5 and all(isinstance(i, Image.Image) for i in turns["images"])
    assert isinstance(turns["final_image"], Image.Image)
    assert [t["stage"] for t in json.loads(turns["turns"])][:5] == [
        "request",
        "plan",
        "sketch",
        "request",
        "critique",
    ]
    by_config = datasets.load_dataset(
        str(out), "conflict", cache_dir=str(tmp_path / "cache")
    )  # the card's configs
    assert by_config["train"].num_rows == 2


def test_folder_rows_and_images_can_be_browsed(store, session, tmp_path):
    out = tmp_path / "folder"
    report = export(store, "folder", out, val_fraction=0.0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "folder" and manifest["counts"] == report.counts
    assert (
        manifest["images"] == len(list((out / "images").iterdir())) == 6
    )  # five drawn + the final
    [saved] = jsonl(out / "sessions.jsonl")
    assert (
        saved["session_id"] == session.trajectory.session.id
        and len(saved["trajectory"]["steps"]) == 12
    )
    for image in (out / "images").iterdir():
        assert image.read_bytes() == store.image_path(image.stem).read_bytes()


@pytest.mark.parametrize("name", ["bagel", "think-trace", "vlm-sft", "hf", "folder"])
def test_the_same_sessions_give_byte_identical_exports(
    store, runner, scripted, session, tmp_path, name
):
    for seed in range(3):
        plain(runner, f"a cat number {seed}", seed=seed)
    out = tmp_path / name
    export(store, name, out, val_fraction=0.5)
    first = tree(out)
    export(store, name, out, val_fraction=0.5, force=True)
    assert tree(out) == first


def test_the_split_is_fixed_per_session(store, runner, scripted, tmp_path):
    sessions = [plain(runner, f"a cat number {i}", seed=i).session.id for i in range(12)]
    report = export(store, "folder", tmp_path / "out", val_fraction=0.5)
    placed = {}
    for split in ("train", "validation"):
        for row in jsonl(tmp_path / "out" / split / "multi_turn.jsonl"):
            placed[row["session_id"]] = split
    assert placed == {s: split_of(s, 0.5) for s in sessions}
    assert set(placed.values()) == {"train", "validation"}
    assert report.counts["multi_turn"]["validation"] == list(placed.values()).count("validation")
