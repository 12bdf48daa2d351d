"""GenEval-format benchmark runs: single-pass vs process-driven, scored by a built-in checker.

- `metadata`: GenEval's prompt file (`tag`, `prompt`, `include`, `exclude`), read and validated;
- `checker`: the detectors that feed GenEval's scoring rules (the offline engine's own sketch
  analyser, yolov3-tiny for real images, OWLv2 + CLIP when their weights are local); the rules
  live beside the scene model, in `studio.language.rules`, because the offline engine uses them too;
- `colors`: the pixel colour classifier used where GenEval's CLIP classifier is not available;
- `layout`: GenEval's output folders (`<mode>/<NNNNN>/metadata.jsonl` + `samples/<NNNN>.png`);
- `run`: the run, a batch (studio/batch/worker.py: work table, workers, resume) plus checker and report;
- `samples`: a finished sample written into the layout and scored, by the worker that finished it;
- `report`: a markdown table per mode and a PNG bar chart, drawn with Pillow.
Its command line, `studio bench geneval`, is studio/cli/geneval.py.

Nothing here imports torch, transformers or gradio at import time.
"""
