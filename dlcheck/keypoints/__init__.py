"""Keypoint utilities: Harris corners (scikit-image), exact ANMS, uniformity metrics, overlays.

Adaptive non-maximal suppression follows Brown, Szeliski & Winder, "Multi-Image Matching using
Multi-Scale Oriented Patches", CVPR 2005. Importing this package loads numpy only; scikit-image and
scipy are imported inside the functions that need them.

Examples
--------
>>> from dlcheck.keypoints import anms, anms_radii
>>> anms_radii([[0, 0], [0, 3]], [2.0, 1.0]).tolist()
[inf, 3.0]
>>> anms([[0, 0], [0, 3]], [2.0, 1.0], num_peaks=1).tolist()
[0]
"""

from __future__ import annotations

__all__ = [
    "BUNDLED_IMAGES",
    "METRIC_NAMES",
    "SELECTION_METHODS",
    "ImageAnalysis",
    "Keypoints",
    "analyse_image",
    "anms",
    "anms_radii",
    "candidate_peaks",
    "draw_overlay",
    "harris_response",
    "load_image",
    "random_reference",
    "refine_subpixel",
    "select_keypoints",
    "to_gray_float",
    "uniformity_metrics",
    "validate_image",
]

from dlcheck.keypoints.analysis import ImageAnalysis, analyse_image
from dlcheck.keypoints.anms import anms, anms_radii
from dlcheck.keypoints.harris import candidate_peaks, harris_response, refine_subpixel, to_gray_float
from dlcheck.keypoints.images import BUNDLED_IMAGES, draw_overlay, load_image, validate_image
from dlcheck.keypoints.select import SELECTION_METHODS, Keypoints, select_keypoints
from dlcheck.keypoints.uniformity import METRIC_NAMES, random_reference, uniformity_metrics
