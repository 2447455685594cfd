"""Person localization with the embedded pose model on a real photograph."""

from __future__ import annotations

import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from stdformer.detect.localize import LocalizerConfig, PersonLocalizer, square_crop
from stdformer.paths import ASSETS_DIR, BadFileError, MissingFileError
from stdformer.types import Frame, Observation

DATA = Path(__file__).resolve().parents[1] / "data"
NOSE, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 0, 11, 12, 23, 24
# Pixel positions of the legacy MediaPipe 0.10.21 `solutions.pose` (model_complexity=1) on
# astronaut.png; the built .task must reproduce them (measured: mean 0.35 px, max 3.8 px apart).
LEGACY_PX = {NOSE: (222.7, 128.0), L_SHOULDER: (306.2, 256.6), R_SHOULDER: (112.7, 240.0)}


def frame(image: np.ndarray, i: int = 0, fps: float = 30.0) -> Frame:
    return Frame(image, t_ns=round(i * 1e9 / fps), index=i)


@pytest.fixture(scope="module")
def localizer():
    with PersonLocalizer(LocalizerConfig()) as loc:
        yield loc


def test_landmarks_on_the_right_body_parts(localizer, astronaut_bgr) -> None:
    localizer.reset()
    obs = localizer.process(frame(astronaut_bgr))
    assert isinstance(obs, Observation)
    assert obs.landmarks_px.shape == (33, 3) and obs.landmarks_px.dtype == np.float32
    assert obs.world_landmarks.shape == (33, 3) and obs.visibility.shape == (33,)
    assert obs.image_size_wh == (512, 512) and (obs.index, obs.t_ns) == (0, 0)
    for i, (x, y) in LEGACY_PX.items():
        assert np.hypot(*(obs.landmarks_px[i, :2] - (x, y))) < 8.0, i
    nose, ls, rs = obs.landmarks_px[[NOSE, L_SHOULDER, R_SHOULDER], :2]
    assert nose[1] < min(ls[1], rs[1])  # head above shoulders
    assert ls[0] > nose[0] > rs[0]  # frontal person: her left is on the image's right
    assert obs.visibility[[NOSE, L_SHOULDER, R_SHOULDER]].min() > 0.9
    assert obs.presence[[L_HIP, R_HIP]].max() < 0.5  # hips are below the photo's edge
    x0, y0, x1, y1 = obs.bbox_xyxy
    for x, y in (nose, ls, rs):
        assert x0 <= x <= x1 and y0 <= y <= y1
    assert 0 <= x0 < x1 <= 512 and 0 <= y0 < y1 <= 512
    # World landmarks are metric and hip-centred: a shoulder width of an adult.
    shoulder_m = np.linalg.norm(obs.world_landmarks[L_SHOULDER] - obs.world_landmarks[R_SHOULDER])
    assert 0.2 < shoulder_m < 0.6
    assert np.linalg.norm(obs.world_landmarks[[L_HIP, R_HIP]].mean(0)) < 0.05


def test_pixel_mapping_in_a_wide_frame(localizer, compose) -> None:
    """The photo scaled 0.75 and pasted at (300, 60) into 960x540: landmarks move with it."""
    localizer.reset()
    obs = localizer.process(frame(compose([(300, 60, 384)], (960, 540))))
    assert obs is not None and obs.image_size_wh == (960, 540)
    nose_expected = np.array(LEGACY_PX[NOSE]) * 0.75 + (300, 60)
    assert np.hypot(*(obs.landmarks_px[NOSE, :2] - nose_expected)) < 10.0


def test_crop_is_square_centred_with_margin(localizer, astronaut_bgr) -> None:
    localizer.reset()
    obs = localizer.process(frame(astronaut_bgr))
    cx0, cy0, cx1, cy1 = obs.crop_xyxy
    bx0, by0, bx1, by1 = obs.bbox_xyxy
    assert cx1 - cx0 == pytest.approx(cy1 - cy0)
    side = max(bx1 - bx0, by1 - by0) * (1 + 2 * localizer.config.crop_margin)
    assert cx1 - cx0 == pytest.approx(side, rel=1e-5)
    np.testing.assert_allclose(obs.center_xy, [(bx0 + bx1) / 2, (by0 + by1) / 2], atol=1e-3)


def test_square_crop_golden() -> None:
    crop = square_crop(np.array([10, 20, 50, 120], np.float32), margin=0.1)
    np.testing.assert_allclose(crop, [-30, 10, 90, 130])


@pytest.mark.parametrize("kind", ["black", "grey", "noise"])
def test_no_person_gives_none(localizer, kind: str) -> None:
    localizer.reset()
    rng = np.random.default_rng(0)
    for i in range(3):
        if kind == "noise":
            image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
        else:
            image = np.full((480, 640, 3), 0 if kind == "black" else 128, np.uint8)
        assert localizer.process(frame(image, i)) is None


def test_repeated_and_backward_timestamps_do_not_raise(localizer, astronaut_bgr) -> None:
    localizer.reset()
    for t_ns in (5_000_000_000, 5_000_000_000, 5_000_400_000, 1_000_000_000, 0, 0):
        obs = localizer.process(Frame(astronaut_bgr, t_ns=t_ns, index=0))
        assert obs is not None and obs.t_ns == t_ns  # the frame's own time is reported


def test_person_lost_and_found_again(localizer, astronaut_bgr) -> None:
    localizer.reset()
    blank = np.full_like(astronaut_bgr, 128)
    images = [astronaut_bgr] * 2 + [blank] * 3 + [astronaut_bgr] * 2
    found = [localizer.process(frame(im, i)) is not None for i, im in enumerate(images)]
    assert found == [True, True, False, False, False, True, True]


def test_segmentation_mask(astronaut_bgr) -> None:
    with PersonLocalizer(LocalizerConfig(segmentation=True)) as loc:
        obs = loc.process(frame(astronaut_bgr))
    assert obs is not None and obs.segmentation is not None
    mask = obs.segmentation
    assert mask.shape == (512, 512) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    x0, y0, x1, y1 = obs.bbox_xyxy.astype(int)
    assert mask[y0:y1, x0:x1].mean() > 0.5 > mask[:, :40].mean()  # person vs. left margin


def test_explicit_model_path_and_env_var(tmp_path: Path, monkeypatch, astronaut_bgr) -> None:
    """--pose-model PATH and $STDFORMER_POSE_MODEL go through the same loader."""
    copy = tmp_path / "pose_landmarker_custom.task"
    copy.write_bytes((ASSETS_DIR / "pose_landmarker_full.task").read_bytes())
    with PersonLocalizer(LocalizerConfig(pose_model=str(copy))) as loc:
        assert loc.model_path == copy and loc.process(frame(astronaut_bgr)) is not None
    monkeypatch.setenv("STDFORMER_POSE_MODEL", str(copy))
    with PersonLocalizer(LocalizerConfig()) as loc:
        assert loc.model_path == copy


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match=r"nope\.task.*build_pose_task"):
        PersonLocalizer(LocalizerConfig(pose_model=str(tmp_path / "nope.task")))


def test_bad_model_files_give_bad_file_error(tmp_path: Path) -> None:
    not_zip = tmp_path / "model.task"
    not_zip.write_bytes(b"this is not a model")
    with pytest.raises(BadFileError, match=r"not a MediaPipe \.task"):
        PersonLocalizer(LocalizerConfig(pose_model=str(not_zip)))

    wrong_members = tmp_path / "hand.task"
    with zipfile.ZipFile(wrong_members, "w") as z:
        z.writestr("hand_detector.tflite", b"x")
    with pytest.raises(BadFileError, match=r"lacks pose_detector\.tflite"):
        PersonLocalizer(LocalizerConfig(pose_model=str(wrong_members)))

    garbage = tmp_path / "garbage.task"
    with zipfile.ZipFile(garbage, "w") as z:
        z.writestr("pose_detector.tflite", b"garbage" * 64)
        z.writestr("pose_landmarks_detector.tflite", b"garbage" * 64)
    with pytest.raises(BadFileError, match="could not load the pose model"):
        PersonLocalizer(LocalizerConfig(pose_model=str(garbage)))


def test_closed_localizer_refuses_frames(astronaut_bgr) -> None:
    loc = PersonLocalizer(LocalizerConfig(max_people=1))
    loc.close()
    loc.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        loc.process(frame(astronaut_bgr))


def test_side_view_photo(localizer) -> None:
    """CC0 photo of a man filming, side view, grey: found, head up, hips below shoulders."""
    image = cv2.imread(str(DATA / "camera.png"), cv2.IMREAD_COLOR)  # (512, 512, 3)
    localizer.reset()
    obs = localizer.process(frame(image))
    assert obs is not None
    nose = obs.landmarks_px[NOSE, :2]
    assert 180 < nose[0] < 290 and 90 < nose[1] < 200  # on his face (hand-measured region)
    shoulders_y = obs.landmarks_px[[L_SHOULDER, R_SHOULDER], 1].mean()
    hips_y = obs.landmarks_px[[L_HIP, R_HIP], 1].mean()
    assert nose[1] < hips_y and shoulders_y < hips_y
    x0, y0, x1, y1 = obs.bbox_xyxy
    assert x0 < 100 and x1 > 250 and y0 < 180 and y1 > 330  # covers head to coat
