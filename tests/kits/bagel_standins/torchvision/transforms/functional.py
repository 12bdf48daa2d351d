"""TEST-ONLY stand-in for torchvision.transforms.functional.resize on PIL images (see ../__init__.py)."""

from PIL import Image


def resize(image, size, interpolation=None, antialias=True):
    height, width = size if isinstance(size, (list, tuple)) else (size, size)
    return image.resize(
        (width, height), interpolation if interpolation is not None else Image.BILINEAR
    )
