"""Fixtures for the network tests: small mesh levels, tiny configs, synthetic observations.

`synthetic_mesh_levels` builds levels of given sizes without a real body (nested index maps,
piecewise-constant up-sampling, ring adjacency): enough to size and run the network, the geometry
is meaningless. Tests needing a surface use `compute_mesh_levels` on an icosphere instead.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from stdformer.body.levels import MeshLevels
from stdformer.body.mesh_levels import compute_mesh_levels
from stdformer.model.config import ModelConfig, landmark_config
from stdformer.types import Observation


def _nearest_map(n_fine: int, n_coarse: int) -> tuple[np.ndarray, np.ndarray]:
    """(up (n_fine, n_coarse), down (n_coarse, n_fine)), both row-stochastic."""
    owner = np.minimum(np.arange(n_fine) * n_coarse // n_fine, n_coarse - 1)  # (n_fine,)
    up = np.zeros((n_fine, n_coarse), np.float32)
    up[np.arange(n_fine), owner] = 1.0
    down = up.T / up.T.sum(axis=1, keepdims=True)
    return up, down.astype(np.float32)


def _ring_faces(n: int) -> np.ndarray:
    i = np.arange(n)
    return np.stack([i, (i + 1) % n, (i + 2) % n], axis=1).astype(np.int64)


def synthetic_mesh_levels(vc: int, vm: int, vf: int, k: int = 3) -> MeshLevels:
    up_cm, down_mc = _nearest_map(vm, vc)
    up_mf, down_fm = _nearest_map(vf, vm)
    d = np.abs(np.arange(vc)[:, None] - np.arange(vc)[None, :])
    adjacency = np.minimum(d, vc - d) <= k  # (Vc, Vc) ring neighbourhood incl. self
    return MeshLevels(
        down_full_to_mid=down_fm,
        down_mid_to_coarse=down_mc,
        up_coarse_to_mid=up_cm,
        up_mid_to_full=up_mf,
        coarse_adjacency=adjacency,
        coarse_faces=_ring_faces(vc),
        mid_faces=_ring_faces(vm),
    )


@pytest.fixture(scope="session")
def sphere_levels() -> MeshLevels:
    """Real nested levels of an icosphere: 42 / 162 / 642 vertices."""
    mesh = trimesh.creation.icosphere(subdivisions=3)
    return compute_mesh_levels(np.asarray(mesh.vertices), np.asarray(mesh.faces), 42, 162)


@pytest.fixture
def tiny_landmark_config() -> ModelConfig:
    """A landmark model small enough for CPU unit tests (T = 4, widths 32 / 16)."""
    return landmark_config(
        "S",
        T=4,
        d_model=(32, 16),
        ffn_dim=(64, 32),
        n_heads=(4, 2),
        dropout=0.0,
        landmark_channels=16,
        landmark_hidden=32,
        landmark_sd_groups=4,
    )


def make_observation(
    index: int, rng: np.random.Generator, image_size_wh: tuple[int, int] = (640, 480)
) -> Observation:
    """A plausible random observation: landmarks inside a square crop box, an upright person
    (shoulders above hips above knees above ankles)."""
    w, h = image_size_wh
    cx, cy, half = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.7), rng.uniform(60, 150)
    lm = np.empty((33, 3), np.float32)
    lm[:, 0] = cx + half * rng.uniform(-0.8, 0.8, 33)
    lm[:, 1] = cy + half * rng.uniform(-0.9, 0.9, 33)
    lm[:, 2] = half * rng.uniform(-0.3, 0.3, 33)
    for rows, (lo, hi) in (((11, 12), (-0.9, -0.5)), ((23, 24), (0.0, 0.2)),
                           ((25, 26), (0.4, 0.6)), ((27, 28), (0.7, 0.9))):  # fmt: skip
        lm[list(rows), 0] = cx + half * rng.uniform(-0.3, 0.3, 2)
        lm[list(rows), 1] = cy + half * rng.uniform(lo, hi, 2)
    return Observation(
        landmarks_px=lm,
        visibility=rng.uniform(0, 1, 33).astype(np.float32),
        presence=rng.uniform(0, 1, 33).astype(np.float32),
        world_landmarks=rng.normal(0, 0.3, (33, 3)).astype(np.float32),
        bbox_xyxy=np.array(
            [lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()], np.float32
        ),
        crop_xyxy=np.array([cx - half, cy - half, cx + half, cy + half], np.float32),
        image_size_wh=image_size_wh,
        t_ns=index * 33_000_000,
        index=index,
    )


@pytest.fixture
def observations() -> list[Observation]:
    """12 random observations of one stream."""
    rng = np.random.default_rng(0)
    return [make_observation(i, rng) for i in range(12)]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def observation_factory():
    """`make_observation(index, rng, image_size_wh)` for tests that need custom streams."""
    return make_observation


@pytest.fixture(scope="session")
def smpl_sized_levels() -> MeshLevels:
    """Synthetic levels with the SMPL sizes 431 / 1723 / 6890 (for parameter counts)."""
    return synthetic_mesh_levels(431, 1723, 6890)
