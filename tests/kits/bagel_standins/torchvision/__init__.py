"""TEST-ONLY stand-in for the few torchvision pieces BAGEL's data/transforms.py imports.

Stands in for: torchvision (transforms.ToTensor, transforms.Normalize, transforms.functional.resize,
transforms.InterpolationMode). torchvision from the registry does not load beside the on-disk CPU torch
2.13.0 the tests use ("operator torchvision::nms does not exist"), and the torch/torchvision pair that
does is a 5.5 GB CUDA build. Only what BAGEL's inference path calls is here; the studio never imports it.
"""

__version__ = "0.0.0+studio-test-standin"
