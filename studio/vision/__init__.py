"""Detectors that read objects from images (the offline COCO detector: yolov3-tiny through OpenCV)."""
