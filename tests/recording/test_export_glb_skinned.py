"""Skinned GLB export: glTF skinning evaluated independently (and by Blender, where installed)
reproduces the recorded joints and vertices; far smaller than the morph-target GLB."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from stdformer.body.smpl_file import SMPL_JOINT_NAMES
from stdformer.recording import open_recording
from stdformer.recording.animation import YUP_FROM_CAM
from stdformer.recording.export import export_recording
from tests.recording.body_take import write_body_take
from tests.recording.test_export import _accessor, _read_glb

REPO = Path(__file__).resolve().parents[2]
N_FRAMES, MISSING = 40, (10, 11)
HELD = np.array([9 if i in MISSING else i for i in range(N_FRAMES)])


@pytest.fixture(scope="module")
def take(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("skinned")
    path = write_body_take(folder, N_FRAMES, missing=MISSING)
    return path, export_recording(open_recording(path), "glb-skinned", folder / "take.glb")


def _skin(gltf: dict, binary: bytes, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """glTF skinning at key `frame`, following the spec: node TRS with animated values,
    world = parent world @ local, vertex = sum_i w_i * world_j @ inverseBind_j @ v."""
    nodes = gltf["nodes"]
    local = {}
    for i, n in enumerate(nodes):
        t = np.array(n.get("translation", [0, 0, 0]), float)
        q = np.array(n.get("rotation", [0, 0, 0, 1]), float)
        local[i] = [t, q]
    anim = gltf["animations"][0]
    for ch in anim["channels"]:
        s = anim["samplers"][ch["sampler"]]
        values = _accessor(gltf, binary, s["output"])
        slot = 0 if ch["target"]["path"] == "translation" else 1
        local[ch["target"]["node"]][slot] = values[frame].astype(float)
    world: dict[int, np.ndarray] = {}

    def visit(i: int, parent: np.ndarray) -> None:
        m = np.eye(4)
        m[:3, :3] = Rotation.from_quat(local[i][1]).as_matrix()
        m[:3, 3] = local[i][0]
        world[i] = parent @ m
        for c in nodes[i].get("children", []):
            visit(c, world[i])

    for root in gltf["scenes"][0]["nodes"]:
        visit(root, np.eye(4))
    skin = gltf["skins"][0]
    ibm = _accessor(gltf, binary, skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)
    joint_mats = np.stack([world[j] @ ibm[k] for k, j in enumerate(skin["joints"])])
    prim = gltf["meshes"][0]["primitives"][0]
    v = _accessor(gltf, binary, prim["attributes"]["POSITION"]).astype(float)
    idx = _accessor(gltf, binary, prim["attributes"]["JOINTS_0"]).astype(int)
    w = _accessor(gltf, binary, prim["attributes"]["WEIGHTS_0"]).astype(float)
    blended = np.einsum("vk,vkij->vij", w, joint_mats[idx])
    verts = np.einsum("vij,vj->vi", blended[:, :3, :3], v) + blended[:, :3, 3]
    joints = np.stack([world[j][:3, 3] for j in skin["joints"]])
    return verts, joints


def test_skinned_glb_reproduces_joints_and_vertices(take: tuple[Path, Path]) -> None:
    rec_path, glb = take
    gltf, binary = _read_glb(glb)
    rec = open_recording(rec_path)
    assert gltf["asset"]["extras"]["frame_count"] == N_FRAMES
    assert gltf["asset"]["extras"]["fps"] == pytest.approx(30.0)
    skin = gltf["skins"][0]
    assert [gltf["nodes"][j]["name"] for j in skin["joints"]] == list(SMPL_JOINT_NAMES)
    w = _accessor(gltf, binary, gltf["meshes"][0]["primitives"][0]["attributes"]["WEIGHTS_0"])
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-6)
    times = _accessor(gltf, binary, gltf["animations"][0]["samplers"][0]["input"])[:, 0]
    np.testing.assert_allclose(times, np.arange(N_FRAMES) / 30.0, atol=1e-6)
    errors = []
    for frame in (0, 10, 25, N_FRAMES - 1):
        verts, joints = _skin(gltf, binary, frame)
        src = HELD[frame]
        want_j = rec.joints[src].astype(float) @ YUP_FROM_CAM.T
        np.testing.assert_allclose(joints, want_j, atol=1e-4)  # 0.1 mm
        want_v = rec.vertices[src].astype(float) @ YUP_FROM_CAM.T
        errors.append(np.linalg.norm(verts - want_v, axis=1))
    err_mm = 1000 * np.concatenate(errors)
    # Top-4 skinning weights instead of the body's full weights (measured: mean 0.01 mm,
    # max 4 mm over a 180-frame take).
    assert err_mm.mean() < 0.5 and err_mm.max() < 10.0, (err_mm.mean(), err_mm.max())


def test_skinned_glb_is_far_smaller_than_morph_targets(
    take: tuple[Path, Path], tmp_path: Path
) -> None:
    rec_path, glb = take
    morph = export_recording(open_recording(rec_path), "glb", tmp_path / "morph.glb")
    assert glb.stat().st_size * 10 < morph.stat().st_size


@pytest.mark.skipif(shutil.which("blender") is None, reason="Blender is not installed")
def test_skinned_glb_plays_in_blender(take: tuple[Path, Path], tmp_path: Path) -> None:
    rec_path, glb = take
    dump = tmp_path / "blender.json"
    cmd = ["blender", "--background", "--factory-startup", "--python"]
    done = subprocess.run(
        [*cmd, str(REPO / "tools" / "blender_check.py"), "--", str(glb), str(dump)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert dump.is_file(), done.stdout[-2000:] + done.stderr[-2000:]
    got = json.loads(dump.read_text())
    assert got["frames"] == N_FRAMES
    blender = np.stack([np.array(got["joints"][n]) for n in SMPL_JOINT_NAMES], axis=1)
    want = np.asarray(open_recording(rec_path).joints, float)[HELD] @ YUP_FROM_CAM.T
    err_mm = 1000 * np.linalg.norm(blender - want, axis=-1)
    assert err_mm.max() < 10.0, err_mm.max()
