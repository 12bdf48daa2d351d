"""The offline sketch engine's parts: it draws scene layouts with strokes and shapes, not photographs.

- `glyphs`: one simple shape per COCO class (data in `glyph_shapes`), placeholders for other nouns.
- `draw`: palette and pen.
- `layout`: where a new object goes, given what is already on the canvas (read from pixels).
- `analyse`: the pixel inspector — finds objects and recognises them by shape and colour, as a viewer would.
- `plan`: the scene planned so far, read from a branch's plan and refine texts; the next plan.
- `judge`: plan-vs-prompt and sketch-vs-plan verdicts, and the edit that fixes the first problem.
- `paint`: the `Painter`, drawing planned groups (with seeded draft mistakes) and applying edits to a sketch.

The engine in `engine` wires these into the four stages.
"""

from .engine import OfflineEngine

__all__ = ["OfflineEngine"]
