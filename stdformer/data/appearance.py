"""How rendered people and their surroundings look: clothing colours, backgrounds, camera noise.

Clothing regions come from each vertex's dominant skinning joint and its height in the rest pose
(default body and SMPL alike): shirt (short or long sleeves), trousers or shorts, shoes, skin,
hair. Backgrounds are plain (a colour with a gradient), textured (blurred noise, stripes,
checks, furniture-like blocks) or photographic (random crops of image files without people).
Photos are split by file name into a training and a held-out half (`photo_split`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from stdformer.body.body_model import BodyModel

SKIN_TONES = np.array(
    [[0.95, 0.80, 0.69], [0.88, 0.67, 0.54], [0.76, 0.57, 0.44], [0.58, 0.40, 0.28],
     [0.40, 0.27, 0.18], [0.30, 0.20, 0.14]]
)  # fmt: skip
HAIR = np.array([[0.08, 0.06, 0.05], [0.20, 0.13, 0.08], [0.45, 0.30, 0.15], [0.75, 0.62, 0.40],
                 [0.55, 0.55, 0.55]])  # fmt: skip
BACKGROUND_KINDS = ("plain", "textured", "photo")


def _joint_mask(part: np.ndarray, *joints: int) -> np.ndarray:
    return np.isin(part, joints)


def clothing_colors(body: BodyModel, rng: np.random.Generator) -> np.ndarray:
    """(V, 3) float RGB in [0, 1]: a random outfit, skin tone and hair on the body's mesh."""
    rest = np.asarray(body.v_template)
    joints = np.asarray(body.rest_joints)
    part = np.asarray(body.lbs_weights).argmax(axis=1)  # (V,) dominant SMPL joint
    y = rest[:, 1]
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.05)
    shirt = rng.uniform(0.05, 0.95, 3)
    trousers = rng.uniform(0.05, 0.7, 3) * rng.choice([1.0, 0.4])
    shoes = rng.uniform(0.05, 0.9, 3) * rng.choice([1.0, 0.2])
    colors = np.tile(skin, (len(rest), 1))
    trunk = _joint_mask(part, 0, 3, 6, 9, 13, 14)
    waist_y = joints[0, 1] + rng.uniform(0.0, 0.1)
    upper_arm = _joint_mask(part, 16, 17)
    forearm = _joint_mask(part, 18, 19)
    colors[trunk & (y >= waist_y)] = shirt
    colors[upper_arm] = shirt
    if rng.random() < 0.5:
        colors[forearm] = shirt  # long sleeves
    legs = _joint_mask(part, 0, 1, 2, 3) & (y < waist_y)
    shins = _joint_mask(part, 4, 5)
    colors[legs] = trousers
    if rng.random() < 0.75:
        colors[shins] = trousers  # long trousers (else shorts)
    ankle_y = joints[7, 1] + 0.04
    colors[_joint_mask(part, 7, 8, 10, 11) | (y < ankle_y)] = shoes
    head_j = joints[15]
    head = _joint_mask(part, 15)
    hair = head & ((y > head_j[1] + 0.07) | ((rest[:, 2] < head_j[2] - 0.03) & (y > head_j[1])))
    colors[hair] = HAIR[rng.integers(len(HAIR))]
    colors *= 1.0 + 0.04 * rng.standard_normal((len(rest), 1))
    return np.clip(colors, 0.0, 1.0).astype(np.float32)


def photo_split(paths: list[Path], held_out: bool) -> list[Path]:
    """Deterministic half of the photos by file-name hash (held-out photos never train)."""
    out = []
    for p in sorted(paths):
        odd = hashlib.sha1(p.name.encode()).digest()[0] % 2 == 1
        if odd == held_out:
            out.append(p)
    return out


def background_bgr(
    size_wh: tuple[int, int], kind: str, rng: np.random.Generator, photos: list[Path]
) -> np.ndarray:
    """(H, W, 3) uint8 BGR background of `kind` (falls back to textured without photos)."""
    w, h = size_wh
    if kind == "photo" and photos:
        img = cv2.imread(str(photos[int(rng.integers(len(photos)))]), cv2.IMREAD_COLOR)
        if img is not None:
            return _random_crop(img, size_wh, rng)
        kind = "textured"
    base = rng.uniform(30, 230, 3)
    grad = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(1.0, 1.3), h)[:, None, None]
    img = np.broadcast_to(base * grad, (h, w, 3)).copy()
    if kind != "plain":
        noise = cv2.GaussianBlur(rng.standard_normal((h, w)), (0, 0), rng.uniform(2, 25))
        img += (noise / (noise.std() + 1e-6))[..., None] * rng.uniform(5, 40, 3)
        x = np.arange(w)[None, :, None]
        if rng.random() < 0.5:  # stripes or checks, like wallpaper or shelves
            period = rng.uniform(10, 80)
            img += rng.uniform(5, 40) * np.sign(np.sin(2 * np.pi * x / period))
        for _ in range(int(rng.integers(0, 6))):  # furniture-like blocks
            x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
            x1, y1 = x0 + int(rng.integers(20, w // 2)), y0 + int(rng.integers(20, h // 2))
            cv2.rectangle(img, (x0, y0), (x1, y1), rng.uniform(0, 255, 3).tolist(), -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def _random_crop(img: np.ndarray, size_wh: tuple[int, int], rng: np.random.Generator):
    w, h = size_wh
    ih, iw = img.shape[:2]
    scale = max(w / iw, h / ih) * rng.uniform(1.0, 1.8)
    img = cv2.resize(img, (max(w, round(iw * scale)), max(h, round(ih * scale))))
    y0 = int(rng.integers(0, img.shape[0] - h + 1))
    x0 = int(rng.integers(0, img.shape[1] - w + 1))
    out = img[y0 : y0 + h, x0 : x0 + w]
    return out[:, ::-1].copy() if rng.random() < 0.5 else out.copy()


def camera_effects(image_bgr: np.ndarray, rng: np.random.Generator, gain: float) -> np.ndarray:
    """Exposure gain, sensor noise and JPEG compression, as a webcam frame has them."""
    img = image_bgr.astype(np.float32) * gain
    img += rng.normal(0, rng.uniform(0, 6), img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    quality = int(rng.integers(55, 95))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else img
