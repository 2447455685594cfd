"""Real human motion for training: CMU Graphics Lab motion capture, as SMPL-layout pose clips.

Source: the BVH files of `SOURCE_REPO` at `SOURCE_COMMIT` (60 fps; CMU's AMC files converted
directly to BVH and retargeted onto Reallusion's "Motion Dummy Male" Character Creator rig by the
repository's author). The clips used are exactly `CLIPS` (those whose files are present in that
snapshot; the raw files are never committed, `tools/convert_cmu.py` reads them from a local
mirror). Licence (mocap.cs.cmu.edu): "This data is free for use in research projects. You may
include this data in commercially-sold products, but you may not resell this data directly, even
in converted form." Shipping weights trained on it is allowed; the data itself is not shipped.
Acknowledgement: "The data used in this project was obtained from mocap.cs.cmu.edu. The database
was created with funding from NSF EIA-0196217." (THIRD_PARTY_NOTICES.md).

Conversion: forward kinematics (`stdformer.data.bvh`), centimetres -> metres (the files are Y up
and face +Z, the body's left at +X, like SMPL), the rig's joints mapped to the 24 SMPL joints
(`RIG_TO_SMPL`), then SMPL-layout pose parameters fitted to those positions with the project's
body fit (`stdformer.body.fit.BodyFitter.fit_joints`) and resampled to the training rates
(`RATES`: 30, 60 and 25 fps; rotations by slerp). Cached per clip and rate as `.npz` under
`default_cache_dir()/cmu/v{CONVERSION_VERSION}` (bump the version when the conversion changes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from stdformer.body.mesh_levels import default_cache_dir
from stdformer.data.bvh import Bvh, forward_kinematics

SOURCE_REPO = "https://github.com/DragonForgedTheArtist/IClone-CMU-Mocap"
SOURCE_COMMIT = "79529f962ade3274163af53cd92179cee2ed9407"
SOURCE_DIR = "All_BVH/subjects"  # files: {SOURCE_DIR}/{subject:03d}/{name}.bvh
CONVERSION_VERSION = 1
RATES = (30.0, 60.0, 25.0)

# name -> CMU's description (CMU index; subjects 1, 2, 3, 5, 6, 7). 1: playground, 2: various,
# 3: uneven terrain, 5: modern dance, 6: basketball, 7: walking.
CLIPS: dict[str, str] = {
    "001_01": "playground - forward jumps, turn around",
    "001_08": "playground - climb, sit, dangle legs, rock back, lower self to ground",
    "001_14": "playground - climb, jump down, dangle, legs push off against",
    "002_01": "walk", "002_02": "walk", "002_03": "run/jog", "002_04": "jump, balance",
    "002_05": "punch/strike", "002_06": "bend over, scoop up, rise, lift arm",
    "002_07": "swordplay", "002_08": "swordplay", "002_09": "swordplay", "002_10": "wash self",
    "003_01": "walk on uneven terrain", "003_02": "walk on uneven terrain",
    "005_01": "walk", "005_02": "dance - expressive arms, pirouette",
    "005_03": "dance - sideways arabesque, turn step, folding arms",
    "005_04": "dance - sideways arabesque, folding arms, bending back",
    "005_05": "dance - quasi-cou-de-pied, raised leg above hip-height, jete en tourant",
    "005_06": "dance - cartwheel-like start, pirouettes, jete",
    "005_07": "dance - small jetes, attitude/arabesque, shifted-axis pirouette, turn",
    "005_08": "dance - rond de jambe in the air, jete, turn",
    "005_09": "dance - glissade devant, glissade derriere, attitude/arabesque",
    "005_10": "dance - glissade devant, glissade derriere, attitude/arabesque",
    "005_11": "dance - sideways steps, pirouette",
    "005_12": "dance - arms held high, pointe tendue a terre, upper body rotation",
    "005_13": "dance - small jetes, pirouette",
    "005_14": "dance - retire derriere, attitude/arabesque",
    "005_15": "dance - retire derriere, attitude/arabesque",
    "005_16": "dance - coupe dessous, jete en tourant",
    "005_17": "dance - coupe dessous, grand jete en tourant",
    "005_18": "dance - attitude/arabesque, jete en tourant, bending back",
    "005_19": "dance - attitude/arabesque, jete en tourant, bending back",
    "005_20": "dance - attitude/arabesque, jete en tourant, bending back",
    "006_01": "walk", "006_02": "basketball - forward dribble",
    "006_03": "basketball - forward dribble", "006_04": "basketball - forward dribble",
    "006_05": "basketball - forward dribble", "006_06": "basketball - backward dribble",
    "006_07": "basketball - backward dribble", "006_08": "basketball - sideways dribble",
    "006_09": "basketball - sideways dribble",
    "006_10": "basketball - forward dribble, 90-degree left turns",
    "006_11": "basketball - forward dribble, 90-degree right turns",
    "006_12": "basketball - forward dribble, 90-degree right turns, crossover dribble",
    "006_14": "basketball - crossover dribble, shoot", "006_15": "basketball - dribble, shoot",
    "007_01": "walk", "007_02": "walk", "007_03": "walk", "007_04": "slow walk",
    "007_05": "slow walk", "007_06": "walk", "007_07": "walk", "007_08": "walk",
    "007_09": "walk", "007_10": "walk", "007_11": "walk", "007_12": "brisk walk",
}  # fmt: skip
# Validation only (never trained on): one or two clips of every kind of motion.
HELD_OUT = ("001_14", "002_02", "002_09", "003_02", "005_08", "005_15", "006_09", "007_10")

# SMPL joint (SMPL order) <- the rig's joint. The rig's thigh joints sit ~2 cm below and ~10 cm
# lateral of its pelvis joint, where SMPL's hips sit ~9 cm below and ~6 cm lateral: the body
# fit's shape (betas) and the residual absorb the difference. "hand" (SMPL's knuckle joint) is
# the middle finger's base; spine1-3 are the rig's waist, spine01 and spine02.
RIG_TO_SMPL: tuple[str, ...] = (
    "CC_Base_Pelvis", "CC_Base_L_Thigh", "CC_Base_R_Thigh", "CC_Base_Waist",
    "CC_Base_L_Calf", "CC_Base_R_Calf", "CC_Base_Spine01", "CC_Base_L_Foot", "CC_Base_R_Foot",
    "CC_Base_Spine02", "CC_Base_L_ToeBase", "CC_Base_R_ToeBase", "CC_Base_NeckTwist01",
    "CC_Base_L_Clavicle", "CC_Base_R_Clavicle", "CC_Base_Head", "CC_Base_L_Upperarm",
    "CC_Base_R_Upperarm", "CC_Base_L_Forearm", "CC_Base_R_Forearm", "CC_Base_L_Hand",
    "CC_Base_R_Hand", "CC_Base_L_Mid1", "CC_Base_R_Mid1",
)  # fmt: skip
UNITS_TO_M = 0.01  # the files are in centimetres


def source_path(name: str) -> str:
    """Path of clip `name` inside the source repository."""
    return f"{SOURCE_DIR}/{name.split('_')[0]}/{name}.bvh"


def smpl_joints(bvh: Bvh) -> np.ndarray:
    """(N, 24, 3) SMPL-order joint positions in metres (Y up, facing +Z) of a source BVH."""
    _, pos = forward_kinematics(bvh)
    return (pos[:, [bvh.index(n) for n in RIG_TO_SMPL]] * UNITS_TO_M).astype(np.float64)


def _frame(x_axis: np.ndarray, y_axis: np.ndarray) -> np.ndarray:
    """(..., 3, 3) right-handed orthonormal frames (columns) from an x and a rough y axis."""
    x = x_axis / np.linalg.norm(x_axis, axis=-1, keepdims=True)
    z = np.cross(x, y_axis)
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    return np.stack([x, np.cross(z, x), z], axis=-1)


def to_body_proportions(joints: np.ndarray, rest: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Source joints (N, 24, 3) re-built with the body's bone lengths, keeping the motion.

    The rig's skeleton is not SMPL's (its pelvis joint sits at hip height, its clavicle joints
    next to the neck), so fitting positions directly would bend the spine and shoulders to
    make up lengths. Instead: the pelvis and spine3 keep the body's rest layout of their
    children, turned by the source's frame (hips left-right and pelvis-spine1 up; shoulders
    left-right and spine3-neck up); every other bone keeps its source direction with the
    body's rest length. The hips' midpoint stays where the source's is.
    """
    out = np.empty_like(joints)
    frames = {
        0: _frame(joints[:, 1] - joints[:, 2], joints[:, 3] - joints[:, 0]),
        9: _frame(joints[:, 16] - joints[:, 17], joints[:, 12] - joints[:, 9]),
    }
    rest_frames = {
        0: _frame(rest[1] - rest[2], rest[3] - rest[0]),
        9: _frame(rest[16] - rest[17], rest[12] - rest[9]),
    }
    turn = {j: frames[j] @ rest_frames[j].T for j in frames}  # (N, 3, 3) world from rest
    hips_mid_rest = 0.5 * (rest[1] + rest[2])
    out[:, 0] = 0.5 * (joints[:, 1] + joints[:, 2]) + turn[0] @ (rest[0] - hips_mid_rest)
    for j in range(1, len(parents)):
        p = parents[j]
        if p in turn:
            out[:, j] = out[:, p] + turn[p] @ (rest[j] - rest[p])
        else:
            d = joints[:, j] - joints[:, p]
            d /= np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)
            out[:, j] = out[:, p] + np.linalg.norm(rest[j] - rest[p]) * d
    return out


def resample_times(n: int, fps_in: float, fps_out: float) -> np.ndarray:
    """Source-frame times (in frames, fractional) of the output frames over the same span."""
    dur = (n - 1) / fps_in
    return np.arange(int(np.floor(dur * fps_out + 1e-6)) + 1) * fps_in / fps_out


def resample_rotations(rot: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(N, J, 3, 3) rotations slerped at fractional frame times `t` (M,) -> (M, J, 3, 3)."""
    n, J = rot.shape[:2]
    out = np.empty((len(t), J, 3, 3))
    for j in range(J):
        out[:, j] = Slerp(np.arange(n), Rotation.from_matrix(rot[:, j]))(t).as_matrix()
    return out


def resample_linear(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(N, ...) values linearly interpolated at fractional frame times `t` (M,)."""
    i0 = np.clip(np.floor(t).astype(int), 0, len(x) - 1)
    i1 = np.minimum(i0 + 1, len(x) - 1)
    w = (t - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    return (1 - w) * x[i0] + w * x[i1]


@dataclass(frozen=True)
class CmuClip:
    """One converted clip at one frame rate (N frames), SMPL conventions, world Y up."""

    name: str
    fps: float
    global_orient: np.ndarray  # (N, 3) axis-angle, world
    body_pose: np.ndarray  # (N, 69)
    transl: np.ndarray  # (N, 3) smplx translation of the fitted body (betas below)
    betas: np.ndarray  # (10,) the fitted shape (the retargeting rig's proportions)
    joints_target: np.ndarray  # (N, 24, 3) the mapped source joints the fit reproduces
    residual_mm: np.ndarray  # (N,) mean joint distance fit <-> target, millimetres

    @property
    def n_frames(self) -> int:
        return int(self.body_pose.shape[0])

    @property
    def description(self) -> str:
        return CLIPS.get(self.name, "")


def cache_dir() -> Path:
    return default_cache_dir() / "cmu" / f"v{CONVERSION_VERSION}"


def clip_file(folder: Path, name: str, fps: float) -> Path:
    return Path(folder) / f"{name}_{round(fps)}fps.npz"


def save_cmu_clip(clip: CmuClip, folder: Path) -> Path:
    """Write atomically (temp file + rename): an interrupted conversion leaves no half file."""
    path = clip_file(folder, clip.name, clip.fps)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **{k: np.asarray(v) for k, v in asdict(clip).items()})
    tmp.replace(path)
    return path


def load_cmu_clip(path: Path) -> CmuClip:
    with np.load(path, allow_pickle=False) as z:
        kw = {f.name: z[f.name] for f in fields(CmuClip)}
    kw["name"], kw["fps"] = str(kw["name"]), float(kw["fps"])
    return CmuClip(**kw)


def load_cmu(folder: Path, held_out: bool = False) -> list[CmuClip]:
    """Every converted clip and rate in `folder` of the training (or held-out) split."""
    out = []
    for p in sorted(Path(folder).glob("*fps.npz")):
        if p.name.endswith(".tmp.npz"):
            continue
        clip = load_cmu_clip(p)
        if (clip.name in HELD_OUT) == held_out:
            out.append(clip)
    return out


def convert(bvh: Bvh, name: str, fitter: object, rates: tuple[float, ...] = RATES) -> list[CmuClip]:
    """Fit SMPL-layout parameters to the clip's joints at the source rate, then resample.

    `fitter`: a `stdformer.body.fit.BodyFitter` of the body the parameters are meant for.
    """
    zero = np.zeros(fitter.num_betas)
    rest = fitter.skel.rest_joints(zero)
    target = to_body_proportions(smpl_joints(bvh), rest, fitter.skel.parents)  # (N, 24, 3)
    fit = fitter.fit_joints(target, betas=zero)
    out = []
    for fps in rates:
        t = resample_times(len(target), bvh.fps, fps)
        rot = resample_rotations(fit.rot_local, t)  # (M, 24, 3, 3)
        transl = resample_linear(fit.transl, t)
        tgt = resample_linear(target, t)
        _, joints = fitter.skel.pose(rot, transl, fit.betas)  # (M, 24, 3)
        rv = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_rotvec().reshape(len(t), 24, 3)
        out.append(
            CmuClip(
                name=name,
                fps=float(fps),
                global_orient=rv[:, 0].astype(np.float32),
                body_pose=rv[:, 1:].reshape(len(t), 69).astype(np.float32),
                transl=transl.astype(np.float32),
                betas=np.asarray(fit.betas, np.float32),
                joints_target=tgt.astype(np.float32),
                residual_mm=(1000 * np.linalg.norm(joints - tgt, axis=-1).mean(-1)).astype(
                    np.float32
                ),
            )
        )
    return out
