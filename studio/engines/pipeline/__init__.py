"""`pipeline`: the training-free baseline, composed from parts named in a TOML file.

- planner: a transformers chat LLM (`AutoModelForCausalLM`) or VLM (`AutoModelForImageTextToText`, e.g.
  Qwen2.5-VL, Idefics3/SmolVLM); it writes `<ins>`/`<des>` and, when none is given, `<refine>`;
- inspector: the planner (`model = "planner"`) or another chat model; a VLM sees the draft;
- sketcher: any diffusers text-to-image pipeline (`AutoPipelineForText2Image`), drawing the plan's `<des>`;
- refiner: a diffusers editing pipeline — FLUX.1 Kontext, Qwen-Image-Edit, InstructPix2Pix, an inpaint
  pipeline (the region drawn on the canvas is its mask), or img2img built from the sketcher's own
  weights (`model = "sketcher"`, the default). Edit pipelines that take no mask are composited
  through the region, so a region refine only ever changes the region's pixels;
- detector (optional): OWLv2 through transformers, or the offline yolov3-tiny COCO detector; its boxes
  become the verdict's evidence and its findings are told to the inspector (`veto = true` also fails
  a sketch that lacks a planned object).

The config file comes from the `config` argument or STROKE_STUDIO_PIPELINE_CONFIG (default:
assets/pipeline-24gb.toml in a source checkout). Each part loads on first use, once per process.
Per session (settings.engine_params): steps, guidance, strength, temperature, max_think_tokens,
preview_every override the file's values.
"""

from .config import CONFIG_SETTING, DEFAULT_CONFIG, SECTIONS, load_config
from .engine import PipelineEngine

__all__ = ["CONFIG_SETTING", "DEFAULT_CONFIG", "SECTIONS", "PipelineEngine", "load_config"]
