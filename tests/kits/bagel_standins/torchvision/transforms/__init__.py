"""TEST-ONLY stand-in for torchvision.transforms (see ../__init__.py): ToTensor, Normalize, InterpolationMode."""

import numpy as np
import torch
from PIL import Image

from . import functional  # noqa: F401


class InterpolationMode:
    BICUBIC = Image.BICUBIC
    BILINEAR = Image.BILINEAR
    NEAREST = Image.NEAREST


class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, x):
        for transform in self.transforms:
            x = transform(x)
        return x


class ToTensor:
    """PIL RGB → float tensor (C, H, W) in [0, 1], as torchvision's ToTensor."""

    def __call__(self, image):
        return (
            torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
            .permute(2, 0, 1)
            .contiguous()
        )


class Normalize:
    def __init__(self, mean, std, inplace=False):
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def __call__(self, x):
        return (x - self.mean) / self.std
