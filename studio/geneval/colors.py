"""A pixel colour classifier among GenEval's ten colours, for real images when CLIP is not available.

GenEval classifies an object's colour with CLIP (ViT-L/14) zero-shot on the object's crop. Without
CLIP weights this stands in for it, and it is *not* the same classifier: it looks only at the
central half of the box (a quarter of the width and height cut from each side, where the object
usually is and the background usually is not), names every pixel by simple hue / saturation /
brightness rules, and takes the majority:

- dark pixels (brightness < 0.22) are black;
- unsaturated pixels (saturation < 0.18) are white when bright (> 0.75), black when dark (< 0.45),
  otherwise gray, which is not one of the ten: gray pixels vote only when nothing else does;
- the rest by hue: red < 15° ≤ orange < 45° ≤ yellow < 70° ≤ green < 165° ≤ blue < 255° ≤ purple
  < 290° ≤ pink < 335° ≤ red; orange hues that are dark (< 0.62) or dull (saturation < 0.4) are
  brown, yellow hues darker than 0.4 are brown, pale red (saturation < 0.5, brightness > 0.7) is
  pink, dark pink (brightness < 0.55) is purple.

Shading, texture and colour casts fool it where CLIP would not; numbers it produces say so.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..language.scene import COLORS

NAME = "pixel colour rules (central half of the box)"
GRAY = len(COLORS)  # the extra class for unsaturated mid-brightness pixels
_INDEX = {name: i for i, name in enumerate(COLORS)}
MAX_SIDE = 64  # crops are shrunk to at most this many pixels a side before voting


def classify_pixels(rgb: np.ndarray) -> np.ndarray:
    """Colour index (into COLORS, or GRAY) of each pixel of an (..., 3) uint8 RGB array."""
    rgb = rgb.astype(np.float32) / 255.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = rgb.max(axis=-1)
    c = v - rgb.min(axis=-1)
    s = np.where(v > 0, c / np.maximum(v, 1e-6), 0.0)
    safe = np.maximum(c, 1e-6)
    h = (
        np.where(
            v == r, ((g - b) / safe) % 6, np.where(v == g, (b - r) / safe + 2, (r - g) / safe + 4)
        )
        * 60.0
    )
    h = np.where(c > 0, h, 0.0)

    out = np.full(v.shape, _INDEX["red"], dtype=np.int8)
    hue_bins = (
        (15, "orange"),
        (45, "yellow"),
        (70, "green"),
        (165, "blue"),
        (255, "purple"),
        (290, "pink"),
        (335, "red"),
    )
    for start, name in hue_bins:
        out[h >= start] = _INDEX[name]
    orange, yellow, red, pink = (out == _INDEX[n] for n in ("orange", "yellow", "red", "pink"))
    out[orange & ((v < 0.62) | (s < 0.4))] = _INDEX["brown"]
    out[yellow & (v < 0.4)] = _INDEX["brown"]
    out[red & (s < 0.5) & (v > 0.7)] = _INDEX["pink"]
    out[pink & (v < 0.55)] = _INDEX["purple"]
    dull = s < 0.18
    out[dull] = GRAY
    out[dull & (v > 0.75)] = _INDEX["white"]
    out[dull & (v < 0.45)] = _INDEX["black"]
    out[v < 0.22] = _INDEX["black"]
    return out


def central_crop(image, box: Sequence[float], inner: float = 0.5):
    """The middle `inner` fraction (per side) of the box, clipped to the image, as an RGB array."""
    from PIL import Image

    rgb = (
        image.convert("RGB")
        if isinstance(image, Image.Image)
        else Image.fromarray(np.asarray(image)).convert("RGB")
    )
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    cut_x, cut_y = (x1 - x0) * (1 - inner) / 2, (y1 - y0) * (1 - inner) / 2
    left, top = max(0, int(round(x0 + cut_x))), max(0, int(round(y0 + cut_y)))
    right, bottom = min(rgb.width, int(round(x1 - cut_x))), min(rgb.height, int(round(y1 - cut_y)))
    if right <= left or bottom <= top:  # a box thinner than a pixel: its centre pixel
        cx = min(max(int((x0 + x1) / 2), 0), rgb.width - 1)
        cy = min(max(int((y0 + y1) / 2), 0), rgb.height - 1)
        left, top, right, bottom = cx, cy, cx + 1, cy + 1
    crop = rgb.crop((left, top, right, bottom))
    if max(crop.size) > MAX_SIDE:
        crop.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.NEAREST)
    return np.asarray(crop)


def box_color(image, box: Sequence[float], inner: float = 0.5) -> str:
    """The colour (one of GenEval's ten) most pixels of the box's central region have."""
    crop = central_crop(image, box, inner)
    named = np.bincount(classify_pixels(crop).ravel(), minlength=GRAY + 1)[:GRAY]
    if named.sum() == 0:  # all gray: the nearer of white and black by mean brightness
        return "white" if crop.max(axis=-1).mean() >= 0.6 * 255 else "black"
    return COLORS[int(named.argmax())]
