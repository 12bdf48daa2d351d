"""The OWLv2 + CLIP checker's plumbing, on tiny random-weight models saved to a folder and loaded offline.

Random weights say nothing about accuracy; this checks that real transformers classes load from local
files only, that boxes come back in image pixels and that colours are one of GenEval's ten.
"""

from __future__ import annotations

import pytest
from PIL import Image

from studio.language.scene import COLORS

from ..kits.gpu_fakes import clip_tokenizer


def build_tiny_owl_clip(folder):
    """Save a tiny OWLv2 and a tiny CLIP (model + processor) under `folder`; returns their two paths."""
    import torch
    import transformers
    from transformers import (
        CLIPConfig,
        CLIPModel,
        CLIPProcessor,
        Owlv2Config,
        Owlv2ForObjectDetection,
        Owlv2Processor,
    )

    torch.manual_seed(0)
    text = dict(
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=1,
        num_attention_heads=4,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    owl_tok = clip_tokenizer(40, bos_first=False)  # OWL masks queries by input_ids[..., 0] > 0
    owl = Owlv2ForObjectDetection(
        Owlv2Config(
            text_config=dict(text, vocab_size=len(owl_tok), max_position_embeddings=40),
            vision_config=dict(
                hidden_size=32,
                intermediate_size=37,
                num_hidden_layers=1,
                num_attention_heads=4,
                image_size=64,
                patch_size=16,
            ),
            projection_dim=32,
        )
    ).eval()
    owl_images = transformers.Owlv2ImageProcessorPil(size={"height": 64, "width": 64})
    owl_dir = folder / "owl"
    Owlv2Processor(image_processor=owl_images, tokenizer=owl_tok).save_pretrained(owl_dir)
    owl.save_pretrained(owl_dir)

    clip_tok = clip_tokenizer(48, bos_first=False)
    clip = CLIPModel(
        CLIPConfig(
            text_config=dict(text, vocab_size=len(clip_tok), max_position_embeddings=48),
            vision_config=dict(
                hidden_size=32,
                intermediate_size=37,
                num_hidden_layers=1,
                num_attention_heads=4,
                image_size=32,
                patch_size=16,
            ),
            projection_dim=32,
        )
    ).eval()
    clip_images = transformers.CLIPImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    clip_dir = folder / "clip"
    CLIPProcessor(image_processor=clip_images, tokenizer=clip_tok).save_pretrained(clip_dir)
    clip.save_pretrained(clip_dir)
    return owl_dir, clip_dir


def test_owl_clip_checker_loads_local_folders_and_scores(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("scipy", reason="OWLv2's image processor resizes with scipy")
    from studio.geneval.checker import (
        CLASSES,
        Detection,
        OwlClipChecker,
        choose,
        owl_clip_available,
    )

    owl, clip = build_tiny_owl_clip(tmp_path)
    assert (
        owl_clip_available(str(owl), str(clip))
        and choose("auto", "a-gpu-engine", str(owl), str(clip)) == "owl"
    )
    checker = OwlClipChecker(owl, clip, device="cpu")
    image = Image.new("RGB", (96, 64), "white")
    image.paste((200, 0, 0), (10, 10, 40, 40))
    for found in checker.detect(image):
        assert found.label in CLASSES and found.score > 0.3
        assert 0 <= found.box[0] <= found.box[2] <= 96 and 0 <= found.box[1] <= found.box[3] <= 64
    assert checker.color(image, Detection("cup", 0.9, (10, 10, 40, 40)), "cup") in COLORS
    verdict = checker.check(
        image, {"tag": "colors", "include": [{"class": "cup", "count": 1, "color": "red"}]}
    )
    assert isinstance(verdict.correct, bool)
