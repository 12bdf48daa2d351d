"""The `trl-pref` export, trained by TRL's own DPOTrainer: its dataset processing, its collators and one
optimizer step.

The models are tiny and random, built here (a Llama LM, a Llava VLM, tokenizers trained on a few
words): no hub download. What is checked is what TRL trains on our rows as they are: the
conversational rows tokenize (chosen and rejected after the same prompt: the engine's own context),
the completion mask a batch carries covers exactly the person's answer in the first half and the
model's in the second (nothing of the prompt), and one `train()` step moves the policy, not the
reference model.
"""

from __future__ import annotations

import copy
import json
import math
import os

import pytest

from studio.core import protocol
from studio.core.domain import RunSettings, Stage, local_user
from studio.engines.bagel import transcript
from studio.export import export

from .test_export_support import steered

pytestmark = pytest.mark.backends
os.environ.setdefault("HF_HUB_OFFLINE", "1")
CHAT = (
    "{% for m in messages %}{{ m['role'].upper() }}: {% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}"
    "{% endif %}{% endfor %}{% endif %}</s>{% endfor %}{% if add_generation_prompt %}ASSISTANT: {% endif %}"
)


def tiny_tokenizer(image_token: bool = False):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>"] + (["<image>"] if image_token else [])
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        ["USER: ASSISTANT: plan the cat and the dog; conflict consistent aligned misaligned"],
        trainers.BpeTrainer(
            vocab_size=320,
            special_tokens=specials,
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    extra = {"extra_special_tokens": {"image_token": "<image>"}} if image_token else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        model_max_length=2048,
        chat_template=CHAT,
        **extra,
    )


def tiny_llama(tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=2048,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    )


def tiny_llava():
    """recipes/build_vlm.py's Llava: CLIP vision tower + Llama, 32-px images, with its processor."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer(image_token=True)
    size, patch = 32, 8
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=1,
        num_attention_heads=4,
        image_size=size,
        patch_size=patch,
        projection_dim=32,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        projector_hidden_act="gelu",
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": size}, crop_size={"height": size, "width": size}
        ),
        tokenizer=tokenizer,
        patch_size=patch,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT,
    )
    return LlavaForConditionalGeneration(config), processor


def dpo_trainer(model, processing_class, dataset, tmp_path, **options):
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(
        output_dir=str(tmp_path / "dpo"),
        per_device_train_batch_size=len(dataset),
        report_to=[],
        max_length=None,
        use_cpu=True,
        save_strategy="no",
        logging_strategy="no",
        **options,
    )
    # the reference model is given (a copy): TRL would otherwise reload the policy by its hub id
    return DPOTrainer(
        model=model,
        ref_model=copy.deepcopy(model),
        args=args,
        train_dataset=dataset,
        processing_class=processing_class,
    )


def completions(batch, tokenizer) -> list[str]:
    """What the loss is taken on, per row of a collated batch: the tokens its completion mask keeps."""
    return [
        tokenizer.decode(ids[mask.bool()], skip_special_tokens=True)
        for ids, mask in zip(batch["input_ids"], batch["completion_mask"])
    ]


def one_step(trainer):
    """One optimizer step; the policy's and the reference model's weights before and after."""
    import torch

    def weights(model):
        return torch.cat([p.detach().flatten().clone() for p in model.parameters()])

    before, ref_before = weights(trainer.model), weights(trainer.ref_model)
    result = trainer.train()
    return result, (before, weights(trainer.model)), (ref_before, weights(trainer.ref_model))


@pytest.fixture
def session(runner, scripted):
    """The steered session (two plan edits, a plan-critique override), and one whose image verdict a
    person flipped: the model failed the round-1 sketch, dana says it follows the instruction."""
    s = steered(runner, scripted)
    scripted.fail_rounds = {1}
    t = runner.new_session(
        "a red apple", engine="scripted", seed=3, settings=RunSettings(max_rounds=2)
    )
    runner.advance(t), runner.advance(t)
    flipped = runner.override(
        t,
        runner.advance(t).id,
        sketch_passed=True,
        sketch_critique="The apple is there.",
        by="dana",
    )
    runner.run(t)
    return s, t, flipped


def _load(out, config):
    from datasets import load_dataset

    return load_dataset(
        str(out), config, split="train", cache_dir=str(out.parent / "hf-cache")
    )  # not ~/.cache: it keys by folder name


def test_rows_pair_the_persons_text_with_the_models(store, session, tmp_path):
    s, _, flipped = session
    out = tmp_path / "trl"
    export(store, "trl-pref", out, val_fraction=0.0)
    # plan2's edit is no pair: a person then failed that plan, and chosen is learned
    (plan,) = _load(out, "text")
    assert plan["step_id"] == s.plan1.id
    assert plan["source"] == "plan-edit" and plan["annotator"] == local_user()
    assert plan["prompt"] == [{"role": "user", "content": plan["prompt"][0]["content"]}]
    context = transcript.root_texts(s.trajectory.session)
    plan_request = transcript.requests(s.trajectory.session, s.plan1.round)[Stage.PLAN]
    assert plan["prompt"][0]["content"] == "\n".join([*context, plan_request])  # the engine's
    assert (
        plan["chosen"][0]["content"] == "<ins>draw a tabby cat</ins><des>a cat</des><done>no</done>"
    )
    assert plan["rejected"][0]["content"] == "<ins>draw a cat</ins><des>a cat</des><done>no</done>"
    vision = {r["step_id"]: r for r in _load(out, "vision")}
    assert set(vision) == {s.inspect2.id, flipped.id}
    critique = vision[s.inspect2.id]  # full verdicts: the person changed the plan check only
    assert critique["source"] == "plan-critique"
    assert critique["chosen"][0]["content"] == [
        {
            "type": "text",
            "text": "<plan>no: WRONG is not in the prompt; drop it.</plan>"
            "<sketch>yes: The sketch follows the instruction.</sketch>",
        }
    ]
    assert critique["rejected"][0]["content"] == [
        {
            "type": "text",
            "text": "<plan>no: The plan contradicts the prompt.</plan>"
            "<sketch>yes: The sketch follows the instruction.</sketch>",
        }
    ]
    row = vision[flipped.id]
    assert row["annotator"] == "dana" and row["source"] == "sketch-critique"
    assert [p["type"] for p in row["prompt"][0]["content"]] == ["image", "text"]
    question = row["prompt"][0]["content"][1]["text"]
    assert "<image>" not in question and question.startswith(transcript.SYSTEM)
    assert question.endswith(transcript.INSPECT_REQUEST)
    assert row["chosen"][0]["content"] == [
        {
            "type": "text",
            "text": "<plan>yes: The plan matches the prompt.</plan><sketch>yes: The apple is there.</sketch>",
        }
    ]
    assert row["rejected"][0]["content"] == [
        {
            "type": "text",
            "text": "<plan>yes: The plan matches the prompt.</plan><sketch>no: Something is missing.</sketch>",
        }
    ]
    for key in ("chosen", "rejected"):  # the engine's reader reads both
        protocol.read_verdict(row[key][0]["content"][0]["text"], strict=True)
    assert row["images"][0].size == (32, 32)  # decoded by datasets to the stored image
    assert json.loads(row["model_original"])["sketch_check"]["passed"] is False


def test_one_dpo_step_on_the_text_rows_takes_the_loss_on_the_plans_alone(store, session, tmp_path):
    out = tmp_path / "trl"
    export(store, "trl-pref", out, val_fraction=0.0)
    dataset = _load(out, "text")
    tokenizer = tiny_tokenizer()
    trainer = dpo_trainer(
        tiny_llama(tokenizer), tokenizer, dataset, tmp_path, max_steps=1, learning_rate=1e-2
    )
    prepared = trainer.train_dataset
    assert len(prepared) == len(dataset) == 1
    for example, original in zip(prepared, dataset):
        assert tokenizer.decode(example["prompt_ids"]) == (
            "USER: " + original["prompt"][0]["content"] + "</s>ASSISTANT: "
        )  # the engine's context, through the chat template
    batch = next(iter(trainer.get_train_dataloader()))
    assert batch["input_ids"].shape[0] == 2  # the chosen row, then the rejected row
    # the loss is on the person's plan (chosen) and the model's (rejected), nothing of the prompt
    assert completions(batch, tokenizer) == [
        dataset[0]["chosen"][0]["content"],
        dataset[0]["rejected"][0]["content"],
    ]
    result, (before, after), (ref_before, ref_after) = one_step(trainer)
    assert result.global_step == 1 and math.isfinite(result.training_loss)
    assert not before.equal(after) and ref_before.equal(ref_after)


def test_one_dpo_step_on_the_vision_rows_takes_the_loss_on_the_verdicts_with_their_image(
    store, session, tmp_path
):
    out = tmp_path / "trl"
    export(store, "trl-pref", out, val_fraction=0.0)
    dataset = _load(out, "vision")
    model, processor = tiny_llava()
    trainer = dpo_trainer(model, processor, dataset, tmp_path, max_steps=1, learning_rate=1e-2)
    batch = next(iter(trainer.get_train_dataloader()))
    image_id = processor.tokenizer.convert_tokens_to_ids("<image>")
    # the image, for each chosen and each rejected row
    assert batch["pixel_values"].shape == (2 * len(dataset), 3, 32, 32)
    assert (
        int((batch["input_ids"][0] == image_id).sum()) == (32 // 8) ** 2
    )  # a token per patch ("default": no CLS)
    texts = [r[0]["content"][0]["text"] for r in dataset["chosen"]] + [
        r[0]["content"][0]["text"] for r in dataset["rejected"]
    ]
    assert completions(batch, processor.tokenizer) == texts  # full verdicts, nothing else
    result, (before, after), (ref_before, ref_after) = one_step(trainer)
    assert result.global_step == 1 and math.isfinite(result.training_loss)
    assert not before.equal(after) and ref_before.equal(ref_after)
