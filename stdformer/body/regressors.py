"""Keypoint regressors for any loaded body: MediaPipe-33, 14 evaluation joints and COCO-17.

Each keypoint is a fixed sparse combination of mesh vertices (a row over V summing to 1), built
once on the rest mesh, so `regress(reg, vertices)` follows any pose and shape.

Where the points come from (bodies face +Z, Y up, the body's left is +X, T-pose rest):
- *Anchors* are read off the mesh. SMPL topology (6,890 vertices): the published SMPL/SMPL-H
  vertex ids that smplx (`smplx/vertex_ids.py`), OpenPose-fitting and SPIN use for nose 332,
  eyes 2800/6260, ears 583/4071, big toes 3216/6617, heels 3387/6787, thumb tips 2746/6191.
  Default body: found by geometry on its rest mesh: nose tip = most anterior head-skin vertex;
  eye centres = front of the eyeball pieces (else nose-relative offsets); ears = most lateral
  head-skin vertex pulled 20 % toward the head joint (the tragus sits inside the rim); heels =
  most posterior low foot vertex; big toes = most anterior foot vertex; thumb tips = most
  anterior hand vertex.
- *Joint rows* are rows of the body's own `J_regressor` (SMPL joint order): elbows, wrists,
  knees, ankles and neck are those joints; MediaPipe shoulders sit ~2 cm above the shoulder
  joint (blend toward the top of the shoulder surface), MediaPipe hips ~1.75 cm medial of the
  hip joints (blend toward the other hip), as measured by running MediaPipe on renders.
- *Surface rules* shared by both topologies: eye corners and mouth corners are frontal-ray hits
  on the face at offsets proportional to the eye spacing; head top is the ray hit above the head
  joint; index/pinky knuckles are the middle of the hand's cross-section at the hand joint
  +/- across the palm; the thumb point (#2 knuckle) is 70 % of the way from the wrist joint to
  the thumb tip.
Evaluation joints follow the LSP/H36M-14 order used by METRO/FastMETRO's metrics, with SMPL
joints for the limbs (not the H36M regressor, which is not free), so numbers are comparable
within this project, not 1:1 with published H36M tables.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components

from stdformer.body import surface as sf
from stdformer.detect.pose_topology import POSE_LANDMARK_NAMES

if TYPE_CHECKING:
    from stdformer.body.body_model import BodyModel

log = logging.getLogger(__name__)

EVAL_JOINT_NAMES: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    "neck", "head_top",
)  # fmt: skip
COCO_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
SMPL_NUM_VERTICES = 6890
# Published SMPL vertex ids (smplx vertex_ids['smplh'], shared by SMPL's 6,890-vertex mesh).
SMPL_ANCHOR_IDS: dict[str, int] = {
    "nose": 332, "left_eye": 2800, "right_eye": 6260, "left_ear": 583, "right_ear": 4071,
    "left_foot_index": 3216, "right_foot_index": 6617, "left_heel": 3387, "right_heel": 6787,
    "left_thumb_tip": 2746, "right_thumb_tip": 6191,
}  # fmt: skip
# SMPL joint indices.
J = {"pelvis": 0, "left_hip": 1, "right_hip": 2, "left_knee": 4, "right_knee": 5,
     "left_ankle": 7, "right_ankle": 8, "spine3": 9, "left_foot": 10, "right_foot": 11,
     "neck": 12, "left_collar": 13, "right_collar": 14, "head": 15, "left_shoulder": 16,
     "right_shoulder": 17, "left_elbow": 18, "right_elbow": 19, "left_wrist": 20,
     "right_wrist": 21, "left_hand": 22, "right_hand": 23}  # fmt: skip
SHOULDER_RAISE_M = 0.02  # MediaPipe shoulder above the shoulder joint
HIP_MEDIAL_M = 0.0175  # MediaPipe hip medial of the hip joint
EAR_INWARD = 0.2  # fraction from the ear rim toward the head joint (default body)
THUMB_FRACTION = 0.7  # wrist -> thumb tip: where the #2 knuckle sits


@dataclass(frozen=True)
class BodyRegressors:
    """Keypoint regressors of one body (rows over its V vertices, each summing to 1)."""

    landmarks: np.ndarray  # (33, V) float32, MediaPipe order (POSE_LANDMARK_NAMES)
    eval_joints: np.ndarray  # (14, V) float32, EVAL_JOINT_NAMES order
    coco: np.ndarray  # (17, V) float32, COCO_NAMES order
    topology: str  # "smpl" (published vertex ids) or "geometric" (anchors found on the mesh)


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def body_regressors(body: BodyModel) -> BodyRegressors:
    """Regressors of a loaded body, built on its zero-shape rest mesh (~50 ms, then cached)."""
    if body not in _CACHE:
        _CACHE[body] = build_regressors(
            body.v_template, body.faces, body.J_regressor, body.lbs_weights
        )
    return _CACHE[body]


def landmark_regressor(body: BodyModel) -> torch.Tensor:
    """(33, V) float32: MediaPipe pose landmarks (POSE_LANDMARK_NAMES order)."""
    return torch.tensor(body_regressors(body).landmarks)  # a copy: the cache stays intact


def eval_joint_regressor(body: BodyModel) -> torch.Tensor:
    """(14, V) float32: evaluation joints in EVAL_JOINT_NAMES (LSP/H36M-14) order."""
    return torch.tensor(body_regressors(body).eval_joints)  # a copy: the cache stays intact


def coco_regressor(body: BodyModel) -> torch.Tensor:
    """(17, V) float32: COCO-17 keypoints in COCO_NAMES order."""
    return torch.tensor(body_regressors(body).coco)  # a copy: the cache stays intact


def regress(reg: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
    """Keypoints from vertices: reg (K, V), vertices (..., V, 3) -> (..., K, 3)."""
    reg = torch.as_tensor(reg, device=vertices.device, dtype=vertices.dtype)
    if vertices.shape[-2] != reg.shape[1]:
        raise ValueError(f"regressor has {reg.shape[1]} vertices, mesh {vertices.shape[-2]}")
    # Rows touch a few hundred vertices in all: gather those instead of a dense (K, V) matmul
    # (0.1 ms instead of ~18 ms for a batch of 16 default-body meshes on one CPU thread).
    cols = torch.nonzero(reg.abs().sum(dim=0)).squeeze(1)  # (U,)
    return torch.matmul(reg[:, cols], vertices.index_select(-2, cols))


def build_regressors(
    v_template: np.ndarray,  # (V, 3) rest mesh, T-pose, facing +Z, Y up
    faces: np.ndarray,  # (F, 3)
    J_regressor: np.ndarray,  # (24, V) SMPL-order joint regressor
    lbs_weights: np.ndarray,  # (V, 24) skinning weights
) -> BodyRegressors:
    """Build all regressors from a body's arrays (SMPL ids when V == 6890, else geometry)."""
    verts = np.asarray(v_template, np.float64)
    faces = np.asarray(faces, np.int64)
    jreg = np.asarray(J_regressor, np.float64)
    joints = jreg @ verts  # (24, 3)
    part = np.asarray(lbs_weights).argmax(axis=1)  # (V,) main joint of each vertex
    skin = sf.largest_piece_faces(verts, faces)
    if verts.shape[0] == SMPL_NUM_VERTICES:
        anchors = {k: sf.one_hot(i, len(verts)) for k, i in SMPL_ANCHOR_IDS.items()}
        topology = "smpl"
    else:
        anchors = _geometric_anchors(verts, faces, skin, joints, jreg, part)
        topology = "geometric"
    marks = _landmark_rows(verts, skin, joints, jreg, part, anchors)  # name -> (V,)
    landmarks = np.stack([marks[n] for n in POSE_LANDMARK_NAMES])
    down = np.array([0.0, -1.0, 0.0])
    head_tris = skin[np.isin(part[skin], [J["head"]]).all(1)]
    head = joints[J["head"]]
    head_top = sf.ray_or_closest_row(verts, head_tris, head - down, down, head)
    evals = {n: jreg[J[n]] for n in EVAL_JOINT_NAMES if n in J}
    evals["head_top"] = head_top
    eval_joints = np.stack([evals[n] for n in EVAL_JOINT_NAMES])
    coco = np.stack([marks[n] for n in COCO_NAMES])
    return BodyRegressors(
        landmarks=_normalised(landmarks), eval_joints=_normalised(eval_joints),
        coco=_normalised(coco), topology=topology,
    )  # fmt: skip


# --------------------------------------------------------------------------------- internals


def _normalised(rows: np.ndarray) -> np.ndarray:
    rows = np.where(np.abs(rows) < 1e-7, 0.0, rows)
    return (rows / rows.sum(axis=1, keepdims=True)).astype(np.float32)


def _side_faces(faces: np.ndarray, part: np.ndarray, joints_ids: list[int]) -> np.ndarray:
    """Faces whose three vertices are all skinned mainly to one of `joints_ids`."""
    return faces[np.isin(part[faces], joints_ids).all(axis=1)]


def _geometric_anchors(
    verts: np.ndarray, faces: np.ndarray, skin: np.ndarray, joints: np.ndarray,
    jreg: np.ndarray, part: np.ndarray,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Anchor rows of a body without published vertex ids, found on its rest mesh."""
    n = len(verts)
    on_skin = np.zeros(n, bool)
    on_skin[skin.reshape(-1)] = True
    head = on_skin & (part == J["head"])
    nose = int(np.argmax(np.where(head, verts[:, 2], -np.inf)))
    out = {"nose": sf.one_hot(nose, n)}
    eyeballs = _eyeball_pieces(verts, faces, on_skin, joints[J["head"]])
    for side, sign in (("left", 1.0), ("right", -1.0)):
        if eyeballs is not None:  # the pupil: front of the eyeball
            ids = eyeballs[0 if sign > 0 else 1]
            out[f"{side}_eye"] = sf.one_hot(int(ids[np.argmax(verts[ids, 2])]), n)
        else:  # typical adult face: eyes 3.0 cm off the midline, 3.9 cm above the nose tip
            eye_xy = verts[nose, :2] + [sign * 0.030, 0.039]
            out[f"{side}_eye"] = _frontal_row(verts, skin, part, eye_xy)
        rim = int(np.argmax(np.where(head, sign * verts[:, 0], -np.inf)))
        out[f"{side}_ear"] = (1 - EAR_INWARD) * sf.one_hot(rim, n) + EAR_INWARD * jreg[J["head"]]
        hand = on_skin & np.isin(part, [J[f"{side}_wrist"], J[f"{side}_hand"]])
        hand &= sign * verts[:, 0] > sign * joints[J[f"{side}_wrist"], 0]
        thumb = int(np.argmax(np.where(hand, verts[:, 2], -np.inf)))
        out[f"{side}_thumb_tip"] = sf.one_hot(thumb, n)
        foot = on_skin & np.isin(part, [J[f"{side}_ankle"], J[f"{side}_foot"]])
        low = foot & (verts[:, 1] < joints[J[f"{side}_ankle"], 1] - 0.02)
        out[f"{side}_heel"] = sf.one_hot(int(np.argmin(np.where(low, verts[:, 2], np.inf))), n)
        toe = int(np.argmax(np.where(foot, verts[:, 2], -np.inf)))
        out[f"{side}_foot_index"] = sf.one_hot(toe, n)
    return out


def _eyeball_pieces(
    verts: np.ndarray, faces: np.ndarray, on_skin: np.ndarray, head_joint: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Vertex ids of the (left, right) eyeballs: separate pieces in front of the head joint."""
    rest = np.flatnonzero(~on_skin)
    if rest.size == 0:
        return None
    n = len(verts)
    e = faces[:, [0, 1, 1, 2]].reshape(-1, 2)
    _, label = connected_components(
        sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)), directed=False
    )
    found = {}
    for piece in np.unique(label[rest]):
        ids = np.flatnonzero(label == piece)
        c = verts[ids].mean(axis=0)
        size = np.ptp(verts[ids], axis=0).max()
        near_head = abs(c[1] - head_joint[1]) < 0.1 and c[2] > head_joint[2]
        if size < 0.05 and near_head and abs(c[0]) > 0.01:
            found.setdefault("left" if c[0] > 0 else "right", []).append(ids)
    if len(found.get("left", [])) != 1 or len(found.get("right", [])) != 1:
        return None
    return found["left"][0], found["right"][0]


def _frontal_row(
    verts: np.ndarray, skin: np.ndarray, part: np.ndarray, xy: np.ndarray
) -> np.ndarray:
    """Face-skin point seen straight from the front at (x, y)."""
    face_tris = skin[np.isin(part[skin], [J["head"], J["neck"]]).all(1)]
    origin = np.array([xy[0], xy[1], verts[:, 2].max() + 0.5])
    target = np.array([xy[0], xy[1], verts[face_tris.reshape(-1), 2].max()])
    return sf.ray_or_closest_row(verts, face_tris, origin, np.array([0.0, 0.0, -1.0]), target)


def _landmark_rows(
    verts: np.ndarray, skin: np.ndarray, joints: np.ndarray, jreg: np.ndarray,
    part: np.ndarray, anchors: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:  # fmt: skip
    """All 33 MediaPipe landmark rows from anchors, joint rows and surface rules."""
    out = {"nose": anchors["nose"]}
    nose = anchors["nose"] @ verts
    eyes = {s: anchors[f"{s}_eye"] @ verts for s in ("left", "right")}
    half = 0.5 * abs(eyes["left"][0] - eyes["right"][0])  # eye centre to midline
    drop = 0.5 * (eyes["left"][1] + eyes["right"][1]) - nose[1]  # eye height over nose tip
    for side, sign in (("left", 1.0), ("right", -1.0)):
        eye = eyes[side]
        out[f"{side}_eye"] = anchors[f"{side}_eye"]
        # Canthi ~0.47 / 0.5 eye half-spacings medial / lateral of the pupil (measured on the
        # default body's eyeballs); mouth corners at 0.8 half-spacing, 0.75 eye drops below.
        inner_xy = eye[:2] - np.array([sign * 0.47 * half, 0.0])
        outer_xy = eye[:2] + np.array([sign * 0.5 * half, 0.05 * half])
        out[f"{side}_eye_inner"] = _frontal_row(verts, skin, part, inner_xy)
        out[f"{side}_eye_outer"] = _frontal_row(verts, skin, part, outer_xy)
        mouth_xy = np.array([nose[0] + sign * 0.8 * half, nose[1] - 0.75 * drop])
        out[f"mouth_{side}"] = _frontal_row(verts, skin, part, mouth_xy)
        out[f"{side}_ear"] = anchors[f"{side}_ear"]
        for name in ("elbow", "wrist", "knee", "ankle"):
            out[f"{side}_{name}"] = jreg[J[f"{side}_{name}"]]
        out[f"{side}_shoulder"] = _raised_shoulder(verts, skin, joints, jreg, part, side)
        other = "right" if side == "left" else "left"
        hip_gap = np.linalg.norm(joints[J[f"{side}_hip"]] - joints[J[f"{other}_hip"]])
        a = HIP_MEDIAL_M / max(hip_gap, 1e-6)
        out[f"{side}_hip"] = (1 - a) * jreg[J[f"{side}_hip"]] + a * jreg[J[f"{other}_hip"]]
        out.update(_hand_rows(verts, skin, joints, jreg, part, anchors, side))
        out[f"{side}_heel"] = anchors[f"{side}_heel"]
        out[f"{side}_foot_index"] = anchors[f"{side}_foot_index"]
    return out


def _raised_shoulder(
    verts: np.ndarray, skin: np.ndarray, joints: np.ndarray, jreg: np.ndarray,
    part: np.ndarray, side: str,
) -> np.ndarray:  # fmt: skip
    """Shoulder joint moved SHOULDER_RAISE_M up toward the top of the shoulder surface."""
    joint = joints[J[f"{side}_shoulder"]]
    ids = [J[f"{side}_shoulder"], J[f"{side}_collar"], J["spine3"], J[f"{side}_elbow"]]
    tris = skin[np.isin(part[skin], ids).all(1)]
    down = np.array([0.0, -1.0, 0.0])
    top = sf.ray_or_closest_row(verts, tris, joint - down, down, joint - 0.05 * down)
    rise = float((top @ verts)[1] - joint[1])
    a = min(1.0, SHOULDER_RAISE_M / max(rise, 1e-6))
    return (1 - a) * jreg[J[f"{side}_shoulder"]] + a * top


def _hand_rows(
    verts: np.ndarray, skin: np.ndarray, joints: np.ndarray, jreg: np.ndarray,
    part: np.ndarray, anchors: dict[str, np.ndarray], side: str,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Index and pinky knuckles (hand cross-section middles) and the thumb #2 knuckle."""
    sign = 1.0 if side == "left" else -1.0
    hand_joint = joints[J[f"{side}_hand"]]
    tris = skin[np.isin(part[skin], [J[f"{side}_wrist"], J[f"{side}_hand"]]).all(1)]
    up = np.array([0.0, 1.0, 0.0])
    # T-pose hands lie palm down with the thumb forward (+Z): the index knuckle is ~2 cm in
    # front of the hand joint (middle knuckle), the pinky knuckle ~3.5 cm behind, 1 cm proximal.
    index_at = hand_joint + np.array([0.0, 0.0, 0.02])
    pinky_at = hand_joint + np.array([-sign * 0.01, 0.0, -0.035])
    index = sf.through_midpoint_row(verts, tris, index_at, up)
    pinky = sf.through_midpoint_row(verts, tris, pinky_at, up)
    wrist = jreg[J[f"{side}_wrist"]]
    thumb = (1 - THUMB_FRACTION) * wrist + THUMB_FRACTION * anchors[f"{side}_thumb_tip"]
    return {f"{side}_index": index, f"{side}_pinky": pinky, f"{side}_thumb": thumb}
