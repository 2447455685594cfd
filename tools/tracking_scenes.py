"""Multi-person test scenes with ground truth, composited from the embedded sample clip.

The animated person of `assets/sample_clip.mp4` (CC0, rendered from the anny body) is cut out
with MediaPipe's person mask, then pasted as two people ("A", the subject, and "B", a bystander
in recoloured clothes) who walk across a room, cross, leave and come back, or step in front of
each other, or one jogs to and fro close to the camera while the other stands small and far
(on a roof). Every frame comes with each person's visible box and the visible fraction of their
body, so a tracker can be scored. Deterministic: same clip, same model, same frames.

    scenes = TrackingScenes.from_clip(sprite_count=40)
    for frame in scenes.render("cross"):
        frame.image_bgr, frame.visible_box["A"], frame.visible_fraction["A"]

`live_frames` picks the frames a busy live run would process (1 in 4, irregularly).
Used by `benchmarks/bench_tracking.py` and the tracking tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SIZE_WH = (960, 540)
FPS = 25
# actor -> (x_feet, y_feet, height_px) at frame i of n
Path2D = Callable[[int, int], tuple[float, float, float]]


@dataclass(frozen=True)
class Sprite:
    """One cut-out pose of the clip person."""

    bgra: np.ndarray  # (h, w, 4) uint8, alpha = person mask
    feet_xy: tuple[float, float]  # bottom centre of the mask, sprite pixels
    height_px: float  # mask height


@dataclass(frozen=True)
class Actor:
    name: str
    path: Path2D
    sprite_offset: int  # which pose of the cycle the actor starts in
    hue_shift: int  # added to the hue of saturated (clothing) pixels, OpenCV units (0-179)


@dataclass(frozen=True)
class SceneFrame:
    image_bgr: np.ndarray  # (H, W, 3) uint8
    index: int
    t_ns: int
    visible_box: dict[str, np.ndarray | None]  # name -> (4,) xyxy of the visible pixels
    visible_fraction: dict[str, float]  # name -> visible / whole-body pixels (0: off screen)


def extract_sprites(clip: Path, count: int, pose_model: Path | None = None) -> list[Sprite]:
    """`count` evenly spaced poses of the clip's person, cut out with MediaPipe's mask."""
    from stdformer.detect.localize import LocalizerConfig, PersonLocalizer
    from stdformer.types import Frame

    cap = cv2.VideoCapture(str(clip))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    if not cap.isOpened() or n <= 0:
        raise FileNotFoundError(f"cannot read {clip}")
    wanted = {round(k * n / count) for k in range(count)}
    sprites: list[Sprite] = []
    config = LocalizerConfig(
        pose_model=str(pose_model) if pose_model else None, max_people=1, segmentation=True
    )
    with PersonLocalizer(config) as loc:
        for i in range(n):
            ok, image = cap.read()
            if not ok:
                break
            obs = loc.process(Frame(image, t_ns=i * 40_000_000, index=i))
            if i not in wanted or obs is None or obs.segmentation is None:
                continue
            alpha = (np.clip(obs.segmentation, 0, 1) * 255).astype(np.uint8)  # (H, W)
            alpha = cv2.GaussianBlur(np.where(alpha > 127, 255, 0).astype(np.uint8), (3, 3), 0)
            ys, xs = np.nonzero(alpha > 127)
            if len(xs) == 0:
                continue
            x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
            bgra = np.dstack([image, alpha])[y0:y1, x0:x1].copy()
            feet = (float(np.median(xs[ys > y1 - 10]) - x0), float(y1 - y0))
            sprites.append(Sprite(bgra, feet, float(y1 - y0)))
    cap.release()
    if not sprites:
        raise RuntimeError(f"no person found in {clip}")
    return sprites


def room_background(clip: Path, size_wh: tuple[int, int] = SIZE_WH) -> np.ndarray:
    """The clip's empty room: its person-free left and right thirds, stretched to size."""
    cap = cv2.VideoCapture(str(clip))
    ok, image = cap.read()
    cap.release()
    if not ok:
        raise FileNotFoundError(f"cannot read {clip}")
    w = image.shape[1]
    room = np.hstack([image[:, : int(0.38 * w)], image[:, int(0.62 * w) :]])
    return cv2.resize(room, size_wh, interpolation=cv2.INTER_LINEAR)


def _walk(x0: float, x1: float, y: float, h: float, start: int, end: int) -> Path2D:
    """From x0 to x1 between frames start and end, standing before and after."""

    def at(i: int, n: int) -> tuple[float, float, float]:
        s = min(max((i - start) / max(end - start, 1), 0.0), 1.0)
        return x0 + (x1 - x0) * s, y, h

    return at


def _leave_return(x: float, y: float, h: float, n_out: int) -> Path2D:
    """Walk right off screen, stay out `n_out` frames, come back to x."""

    def at(i: int, n: int) -> tuple[float, float, float]:
        far = SIZE_WH[0] + 0.5 * h
        walk = 30
        if i < 20:
            return x, y, h
        if i < 20 + walk:
            return x + (far - x) * (i - 20) / walk, y, h
        if i < 20 + walk + n_out:
            return far, y, h
        back = min((i - 20 - walk - n_out) / walk, 1.0)
        return far + (x - far) * back, y, h

    return at


def _back_and_forth(x0: float, x1: float, y: float, h: float, period: int) -> Path2D:
    """From x0 to x1 and back every `period` frames (turning at each end)."""

    def at(i: int, n: int) -> tuple[float, float, float]:
        s = 2.0 * (i % period) / period
        return x0 + (x1 - x0) * (s if s < 1.0 else 2.0 - s), y, h

    return at


def live_frames(n_frames: int, mean_step: float = 4.0, seed: int = 0) -> list[int]:
    """The frames a busy live run processes: 1 in `mean_step` on average, irregularly (1-8
    frames apart), as the keep-latest capture drops what the machine cannot process."""
    rng = np.random.default_rng(seed)
    kept, i = [], 0
    while i < n_frames:
        kept.append(i)
        i += int(np.clip(round(rng.normal(mean_step, 1.2)), 1, 8))
    return kept


def scene_actors(name: str) -> tuple[int, list[Actor]]:
    """(frame count, actors back to front) of a named scene."""
    a_cols, b_cols = 0, 60  # B: shirt and trousers in other colours
    if name == "cross":  # B walks in front of A, covering it on the way
        return 150, [
            Actor("A", _walk(220, 740, 470, 360, 10, 140), 0, a_cols),
            Actor("B", _walk(760, 200, 500, 400, 10, 140), 17, b_cols),
        ]
    if name == "leave_return":  # A leaves right for 1.2 s (< timeout) and returns; B stays
        return 150, [
            Actor("B", _walk(250, 250, 470, 340, 0, 1), 9, b_cols),
            Actor("A", _leave_return(600, 480, 360, 30), 0, a_cols),
        ]
    if name == "enter":  # B enters from the left and stops in front of A, half covering it
        return 130, [
            Actor("A", _walk(560, 600, 460, 340, 0, 130), 0, a_cols),
            Actor("B", _walk(-150, 470, 510, 420, 20, 90), 23, b_cols),
        ]
    if name == "jogger":  # A jogs across close to the camera and back; B small on a roof
        return 250, [
            Actor("B", _walk(760, 760, 190, 100, 0, 1), 9, b_cols),
            Actor("A", _back_and_forth(120, 840, 530, 300, 40), 0, a_cols),
        ]
    if name == "small":  # both far away (~120 px tall): the full frame misses them
        return 120, [
            Actor("A", _walk(380, 620, 330, 120, 0, 120), 0, a_cols),
            Actor("B", _walk(800, 700, 300, 110, 0, 120), 11, b_cols),
        ]
    raise KeyError(f"unknown scene {name!r}; known: {', '.join(SCENES)}")


SCENES = ("cross", "leave_return", "enter", "jogger", "small")


class TrackingScenes:
    """Renders the named scenes from sprites of the sample clip."""

    def __init__(self, sprites: list[Sprite], background_bgr: np.ndarray) -> None:
        self.sprites, self.background = sprites, background_bgr

    @classmethod
    def from_clip(cls, clip: Path | None = None, sprite_count: int = 100) -> TrackingScenes:
        from stdformer.paths import resolve_file

        clip = clip or resolve_file("sample_clip")
        return cls(extract_sprites(clip, sprite_count), room_background(clip))

    def render(self, name: str, frames: int | None = None) -> Iterator[SceneFrame]:
        n, actors = scene_actors(name)
        for i in range(n if frames is None else min(frames, n)):
            yield self.frame(actors, i, n)

    def frame(self, actors: list[Actor], i: int, n: int) -> SceneFrame:
        canvas = self.background.copy()
        h, w = canvas.shape[:2]
        owner = np.full((h, w), -1, np.int16)  # which actor is seen at each pixel
        whole = {}
        for k, actor in enumerate(actors):
            sprite = self.sprites[(i + actor.sprite_offset) % len(self.sprites)]
            x, y, height = actor.path(i, n)
            s = height / sprite.height_px
            bgra = cv2.resize(sprite.bgra, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            ox = round(x - sprite.feet_xy[0] * s)
            oy = round(y - sprite.feet_xy[1] * s)
            whole[actor.name] = float((bgra[..., 3] > 127).sum())
            _paste(canvas, owner, _recolour(bgra, actor.hue_shift), ox, oy, k)
        boxes, fractions = {}, {}
        for k, actor in enumerate(actors):
            ys, xs = np.nonzero(owner == k)
            fractions[actor.name] = len(xs) / whole[actor.name] if whole[actor.name] else 0.0
            boxes[actor.name] = (
                np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)
                if len(xs)
                else None
            )
        t_ns = round(i * 1e9 / FPS)
        return SceneFrame(canvas, i, t_ns, boxes, fractions)


def _paste(
    canvas: np.ndarray,
    owner: np.ndarray,
    bgra: np.ndarray,
    ox: int,
    oy: int,
    k: int,
) -> None:
    h, w = canvas.shape[:2]
    sh, sw = bgra.shape[:2]
    x0, y0, x1, y1 = max(ox, 0), max(oy, 0), min(ox + sw, w), min(oy + sh, h)
    if x1 <= x0 or y1 <= y0:
        return
    part = bgra[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    alpha = part[..., 3:4].astype(np.float32) / 255.0
    colour = part[..., :3].astype(np.float32)
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = (alpha * colour + (1 - alpha) * region + 0.5).astype(np.uint8)
    owner[y0:y1, x0:x1][part[..., 3] > 127] = k


def _recolour(bgra: np.ndarray, hue_shift: int) -> np.ndarray:
    """Shift the hue of strongly coloured pixels (clothes), leaving skin and hair alone."""
    if hue_shift % 180 == 0:
        return bgra
    hsv = cv2.cvtColor(np.ascontiguousarray(bgra[..., :3]), cv2.COLOR_BGR2HSV)
    clothes = hsv[..., 1] > 110
    hsv[..., 0] = np.where(clothes, (hsv[..., 0].astype(int) + hue_shift) % 180, hsv[..., 0])
    out = bgra.copy()
    out[..., :3] = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    return out
