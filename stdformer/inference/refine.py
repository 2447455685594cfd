"""Per-frame body refinement: the network's mesh as the prior, MediaPipe's evidence on top.

The network's per-vertex mesh is smooth in time but, on real people, less faithful than the
landmarks it is computed from (it can stand beside the person in the image, lean less, mis-size
the head). `BodyRefiner` poses the body model so that it
- follows the network's body shape and pose (prior: the network mesh's joints, 33 landmarks and
  a few vertices per bone, relative to the pelvis: `sigma_prior` in depth, where the network
  knows more than one image, `sigma_prior_xy` across the image; its placement weakly); points
  the network places outside the image have no evidence there, so they keep `sigma_prior` on
  every axis when the hips are out of view too (the hidden legs and pelvis of a
  head-and-shoulders view stay the network's guess),
- lands on MediaPipe's confident 2D landmarks through the camera K (`sigma_2d` of the person's
  box height; a Cauchy loss ignores the odd wrong landmark; a landmark that jumps off the path
  of its last two readings by more than `jump_gate` of the box height counts less: a glitch,
  not human motion), and
- agrees with MediaPipe's metric world landmarks up to scale (`sigma_world`),
with a few Gauss-Newton steps of `stdformer.body.fit` warm-started from the previous frame.
Joints whose rotations those points barely tell apart (the spine's three joints, neck, head,
collars; the twists of elbows and wrists) are held toward rest (`torso_prior`, `collar_prior`,
`arm_twist_prior`): unheld they traded counter-rotations of 30-170 deg between frames,
invisible in joint positions, not in the rotations that exports and streams carry.
Weights were chosen on the real multi-view set (`main.py evaluate --real`); a term pulling
toward the previous frame was tried and dropped: with fast motion it held wrong poses.
Smoothness comes from the network prior and the session's One-Euro smoothing.
Shape (betas) is fitted to the network's meshes over the first `settle_frames` of a track and
then held, within `BETA_NORM_LIMIT` of the mean body (a badly read person asks for 5-9 sd);
frames with the hips out of view count `unseen_hips_betas` (half): shape from a head and
shoulders is mostly the network's guess.
Hidden legs (knees and ankles out of view, hips at or below the bottom edge: a desk) have no
evidence, and the network's guess for them is unreliable (held-out head-and-shoulders renders:
standing, hips bent < 30 deg, in 3 of 13 seated clips; bent more in 3 of 6 standing ones).
The legs are then blended into the pose `hidden_legs` names, seated (hips and knees bent ~90
deg, the default: a webcam at a desk) or standing (straight), a per-track weight moving over
`seat_ramp_s` of media time so it never pops (`_seat`); legs in view are untouched. Legs this
track saw straight stay standing when they leave the image (the person came nearer the
camera) until the shoulders are `sit_drop` shoulder widths lower than they were then (the
person sat down); a track that never showed its legs gets `hidden_legs`.
The result is a posed body: a clean surface (no torn hands), its joints, and its
parameters (`MeshResult.body`) for animation exports and streams.

Modes: "refined" (the above), "fit" (the body fitted to the network mesh only, no evidence:
the network's output as body parameters), "raw" (the network's vertices, no body fit).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from threadpoolctl import ThreadpoolController

from stdformer.body.body_model import BodyModel
from stdformer.body.fit import BETA_NORM_LIMIT, BodyFit, BodyFitter, JointPrior, Term
from stdformer.body.kinematics import PointSet, matrices, rotvecs
from stdformer.body.regressors import landmark_regressor
from stdformer.detect.pose_topology import POSE_ANKLES, POSE_HIPS, POSE_KNEES, POSE_SHOULDERS
from stdformer.inference.roll import upright_in_image
from stdformer.types import MeshResult, Observation

BodyOutput = Literal["refined", "fit", "raw"]
BODY_OUTPUTS: tuple[str, ...] = ("refined", "fit", "raw")
HiddenLegs = Literal["seated", "standing"]
HIDDEN_LEGS: tuple[str, ...] = ("seated", "standing")
# The prior's rows (`BodyRefiner._prior_rows`): 24 joints, 33 landmarks, then bone vertices.
_PELVIS_ROWS = np.array([0])
_LANDMARK_ROWS = np.arange(24, 24 + 33)
_KNEES_ANKLES = (25, 26, 27, 28)  # MediaPipe landmarks that show whether the legs are in view
_TORSO_JOINTS = (3, 6, 9, 12, 15)  # spine1, spine2, spine3, neck, head (held toward rest)
_COLLAR_JOINTS = (13, 14)
_ARM_JOINTS = (18, 19, 20, 21)  # elbows, wrists (their twist held)
# Hidden legs' poses in SMPL's rest frame (Y up, facing +Z), local axis-angle per joint.
# Seated: the thighs forward of the pelvis (hips -90 deg about +X), the shins down (knees +90
# deg about +X). Standing: the rest pose (legs straight down).
_SEAT_JOINTS = (1, 2, 4, 5)  # left hip, right hip, left knee, right knee
_HIDDEN_LEG_ROTVECS = {
    "seated": np.array([[-np.pi / 2, 0, 0], [-np.pi / 2, 0, 0], [np.pi / 2, 0, 0],
                        [np.pi / 2, 0, 0]]),
    "standing": np.zeros((4, 3)),
}  # fmt: skip


@dataclass(frozen=True)
class RefineConfig:
    """Weights of the refinement (sigmas: the error each source is trusted to)."""

    output: BodyOutput = "refined"
    sigma_2d: float = 0.015  # of the person's box height, for confident 2D landmarks
    sigma_world: float = 0.10  # metres, MediaPipe world landmarks (shape, up to scale)
    sigma_prior: float = 0.05  # metres, the network's points relative to its pelvis, in depth
    sigma_prior_xy: float = 0.15  # metres, the same across the image (2D evidence rules there)
    sigma_place: float = 0.30  # metres, the network's pelvis position (depth mostly)
    robust_2d: float = 0.3  # of the box height: farther landmarks count less (Cauchy)
    min_visibility: float = 0.5  # a landmark with this confidence counts as seen
    # Landmark weights fade in over confidence min_visibility +- visibility_ramp (times the
    # confidence) instead of switching on at min_visibility: a landmark whose confidence
    # hovers there (a hand at the image edge, a turned-away limb) no longer kicks the body
    # between frames. Real set live accel 10.7 -> 10.4 / 8.2 -> 8.0, held-out renders lower
    # on every framing (assets/README.md).
    visibility_ramp: float = 0.3
    iters: int = 2
    settle_frames: int = 30  # betas: mean over the first frames of a track, then held
    # Shape read while the hips are out of view (head and shoulders: the network's body below
    # the chest, its leg lengths with it, is a guess) counts at this fraction, drawn toward
    # the mean body. Held-out head-and-shoulders renders, live: hidden legs plausible 74.4 ->
    # 79.4 %, PA-MPJPE 70.7 -> 70.2 mm, visible joints 32.5 -> 32.1 (79.4 % from 0.25 to 0.75;
    # 0, the mean body: 77.8 %); full-body and knees-cut framings within 0.1 mm, the real set
    # unchanged.
    unseen_hips_betas: float = 0.5
    prior_vertices: int = 48  # vertices spread over the bones (twist) in the prior
    # Gauss-Newton steps re-posing the body onto smoothed points (`repose`). With the pose
    # prior below, 2 are as good as 4 (real set front PA-MPJPE / accel `process` 79.4 / 8.7 vs
    # 79.1 / 8.4, live 80.3 / 11.7 vs 80.2 / 11.5; held-out renders equal) at half the cost.
    repose_iters: int = 2
    # Per radian^2, the local rotations of the spine's three joints, neck and head held
    # toward rest (`BodyFitter.solve`'s pose prior): their subtrees nearly coincide, so the
    # points barely tell their rotations apart and, unheld, they traded counter-twists of
    # 30-110 deg from frame to frame (a zig-zag torso in every export and stream; real set,
    # `process`: MPJPE 119.0 -> 116.3 front, held-out renders MPVPE 125.6 -> 121.2,
    # assets/README.md).
    # The collars (collar and shoulder move nearly the same points too) more lightly: their
    # swing is a real shrug that the shoulder landmarks show (20 cost 1.5 mm front PA-MPJPE).
    torso_prior: float = 50.0
    collar_prior: float = 5.0
    # The twists of the elbows and wrists about their bones likewise (they turn nearly the
    # same points: unheld, the wrists twisted 80-120 deg on average on a held-out clip whose
    # truth has none, wrung forearms). Not the shoulders: their twist places a bent forearm
    # (held at 20 or 5, the held-out head-and-shoulders clips lost 4-5 mm PA-MPJPE).
    arm_twist_prior: float = 20.0
    # Hidden legs at a desk: when none of the knee/ankle landmarks is usable (confident and in
    # the image) and the hips' mean is in the bottom `seat_hip_band` of the image or below it,
    # the legs blend into the `hidden_legs` pose over `seat_ramp_s` seconds (and back out the
    # same). One image cannot tell a seated person from a standing one there: the user can.
    hidden_legs: HiddenLegs = "seated"
    seat_hip_band: float = 0.10  # of the image height
    seat_ramp_s: float = 0.3
    # Legs last seen straight (MediaPipe's world landmarks: shoulder-hip-knee and hip-knee-ankle
    # angles at least `straight_deg`; a person standing reads 150-172 deg; walking's bent knees
    # keep what was seen, a hip angle under `seated_hip_deg` forgets it) stay standing out of
    # view until the shoulders are `sit_drop` of their width lower in the image than then:
    # sitting lowers them ~0.45 m, ~1.3 widths; walking up to a camera at most ~0.3 m above
    # them lowers them by less than 0.85 (in widths at the nearer distance).
    straight_deg: float = 150.0  # hip and knee angles at least this: straight legs
    seated_hip_deg: float = 120.0  # a hip angle below this: no longer standing
    sit_drop: float = 0.9
    # A landmark's weight (2D and world) is divided by 1 + (d / jump_gate)^4, d its distance
    # (of the box height) from where its last two confident readings put it (constant
    # velocity): MediaPipe's glitches on real footage (a limb jumping to another person or
    # across the body for a frame or two) leave that path by a median 33 % of the body's height,
    # its ordinary frames by 3 % (p90 9 %; real set, 60 fps); a lasting change is followed
    # from its third frame. Real set live, front / back: PA-MPJPE 83.7 -> 83.5 / 80.7 ->
    # 80.3, accel 11.4 -> 11.1 / 7.9 -> 7.5; renders, live, knees cut 46.7 -> 46.0 (accel 7.5 ->
    # 6.2), full body equal (assets/README.md). 0 = off.
    jump_gate: float = 0.10


class BodyRefiner:
    """Turns the predictor's network meshes into posed bodies (module docstring)."""

    def __init__(self, body: BodyModel, config: RefineConfig | None = None) -> None:
        self.config = config or RefineConfig()
        if self.config.output not in BODY_OUTPUTS:
            raise ValueError(f"body output must be one of {BODY_OUTPUTS}")
        if self.config.hidden_legs not in HIDDEN_LEGS:
            raise ValueError(f"hidden legs must be one of {HIDDEN_LEGS}")
        self.fitter = BodyFitter(body, vertex_budget=self.config.prior_vertices)
        lm = landmark_regressor(body).numpy().astype(np.float64)  # (33, V)
        onehot = np.zeros((len(self.fitter.mesh_points.vertex_ids), body.num_vertices))
        onehot[np.arange(len(onehot)), self.fitter.mesh_points.vertex_ids] = 1.0
        jreg = np.asarray(body.J_regressor, np.float64)  # (24, V)
        self._prior_rows = np.concatenate([jreg, lm, onehot])  # (24 + 33 + U, V)
        self._prior_cols = np.flatnonzero(np.abs(self._prior_rows).sum(0) > 0)
        self._prior_rows_c = self._prior_rows[:, self._prior_cols]
        self.prior_points = PointSet.from_rows(self.fitter.skel, self._prior_rows)
        # One BLAS thread while fitting: OpenBLAS spreads the small (75 x 3K) products over
        # the cores MediaPipe and the renderer use and spins there (measured: +0.7 core).
        self._blas = ThreadpoolController()
        self.landmark_points = PointSet.from_rows(self.fitter.skel, lm)  # prior rows 24..56
        # `solve`'s pose and twist priors (24,) each; none for "fit", which reproduces the
        # network's mesh as it is
        self._prior = JointPrior.none()
        if self.config.output == "refined":
            self._prior.rest[list(_TORSO_JOINTS)] = self.config.torso_prior
            self._prior.rest[list(_COLLAR_JOINTS)] = self.config.collar_prior
            self._prior.twist[list(_ARM_JOINTS)] = self.config.arm_twist_prior
        self.reset()

    def reset(self) -> None:
        """A new track: no warm start; betas are estimated again."""
        self._last: BodyFit | None = None
        self._betas_sum = np.zeros(self.fitter.num_betas)
        self._betas_n = 0
        # per hidden-legs pose, 0 = the legs as solved, 1 = in that pose (at most one rises)
        self._leg_weights = dict.fromkeys(HIDDEN_LEGS, 0.0)
        self._seat_t_ns: int | None = None
        self._stood: tuple[float, float] | None = None  # shoulders (y, width) px, legs straight
        self._hidden_pose: str = self.config.hidden_legs  # the pose hidden legs are given
        self._readings: list[tuple[int, np.ndarray, np.ndarray]] = []  # last two (t_ns, uv, sure)

    @property
    def betas(self) -> np.ndarray:
        """The track's shape: the mean of its per-frame estimates, drawn back toward the mean
        body to at most `BETA_NORM_LIMIT` (the network's mesh of someone it reads badly, e.g.
        far away and half hidden, otherwise asks for 5-9 sd: a stick figure)."""
        betas = self._betas_sum / max(self._betas_n, 1)
        norm = float(np.linalg.norm(betas))
        return betas * (BETA_NORM_LIMIT / norm) if norm > BETA_NORM_LIMIT else betas

    def __call__(self, mesh: MeshResult) -> MeshResult:
        """The refined (or fitted) body for one network mesh, with `body` parameters."""
        if self.config.output == "raw":
            return mesh
        with self._blas.limit(limits=1, user_api="blas"):
            return self._refine(mesh)

    def targets(self, mesh: MeshResult) -> np.ndarray:
        """(K, 3) the points of `mesh` a body is fitted to (joints, landmarks, bone vertices):
        what `repose` takes back, e.g. smoothed (`stdformer.inference.smoothing`)."""
        return self._prior_rows_c @ mesh.vertices_cam[self._prior_cols].astype(np.float64)

    def repose(self, mesh: MeshResult, targets: np.ndarray, iters: int | None = None) -> MeshResult:
        """`mesh` with the body re-posed onto `targets` (K, 3), e.g. the smoothed `targets` of
        its own body, which is the warm start: vertices, joints and `body` stay one. `iters`
        Gauss-Newton steps (None: `RefineConfig.repose_iters`). The refiner's own state is
        left as it is."""
        assert mesh.body is not None
        with self._blas.limit(limits=1, user_api="blas"):
            t0 = time.perf_counter()
            fit = BodyFit.from_params([mesh.body])
            terms = self._prior_terms(targets, relative=False)
            steps = self.config.repose_iters if iters is None else iters
            fit = self.fitter.solve(fit, terms, iters=steps, prior=self._prior)
            return self._posed(mesh, fit, "repose", t0)

    def _refine(self, mesh: MeshResult) -> MeshResult:
        t0 = time.perf_counter()
        net = self._prior_rows_c @ mesh.vertices_cam[self._prior_cols].astype(np.float64)
        refine = self.config.output == "refined" and mesh.observation is not None
        fit = self._start(net[None], refine and _hips_unseen(mesh.observation, self.config))
        terms = self._prior_terms(net, relative=refine, outside=_hidden(net, mesh, refine))
        posed = self.fitter.skel.pose(fit.rot_local, fit.transl, fit.betas)  # the start's
        if refine:
            terms += self._evidence_terms(fit, mesh, posed)
        cfg = self.config
        fit = self.fitter.solve(fit, terms, cfg.iters, damping=1.0, posed=posed, prior=self._prior)
        self._last = fit  # the warm start: the legs as solved, not seated (a clean blend)
        if not refine:
            return self._posed(mesh, fit, "fit", t0)
        fit = self._seat(fit, mesh)
        legs = next((k for k, w in self._leg_weights.items() if w >= 0.5), None)
        return dataclasses.replace(self._posed(mesh, fit, "fit", t0), hidden_legs=legs)

    def _posed(self, mesh: MeshResult, fit: BodyFit, stage: str, t0: float) -> MeshResult:
        """`mesh` replaced by the posed body of `fit` (vertices, joints, parameters)."""
        posed = self.fitter.skel.pose(fit.rot_local, fit.transl, fit.betas)  # once for both below
        verts = self.fitter.vertices(fit, posed)[0]
        joints = posed[1][0].astype(np.float32)  # (24, 3) the posed joints
        timings = dict(mesh.timings_ms, **{stage: (time.perf_counter() - t0) * 1e3})
        return dataclasses.replace(
            mesh, vertices_cam=verts, joints_cam=joints, body=fit.params(0), timings_ms=timings
        )

    def _start(self, net: np.ndarray, hips_unseen: bool = False) -> BodyFit:
        """Warm start from the last frame; a new track starts from the network's pose.
        `hips_unseen`: this frame's shape counts at `unseen_hips_betas` (config)."""
        if self._betas_n < self.config.settle_frames:
            start = self._last or self._cold_start(net)
            solved = self.fitter.solve_betas(start, self.prior_points, net)
            weight = self.config.unseen_hips_betas if hips_unseen else 1.0
            self._betas_sum += weight * solved.betas
            self._betas_n += 1
        if self._last is None:
            return self._cold_start(net)
        return dataclasses.replace(self._last, betas=self.betas)

    def _cold_start(self, net: np.ndarray) -> BodyFit:
        joints = net[:, :24]  # the prior's first rows are the J_regressor's
        fit = self.fitter.kabsch_init(joints, None, self.betas)
        term = Term(self.prior_points, net, np.ones(net.shape[:2]))
        return self.fitter.solve(
            fit,
            [term],
            iters=4,
            damping=1e-4,
            prior=self._prior,
        )

    def _prior_terms(
        self, net: np.ndarray, relative: bool, outside: np.ndarray | None = None
    ) -> list[Term]:
        """The network's points: relative to its pelvis plus the pelvis placed weakly
        (refined; `outside` (K,) bool: points out of the image, held on every axis), or as
        they are (fit)."""
        cfg = self.config
        w = np.full((1, len(net)), 1.0 / cfg.sigma_prior**2)
        if not relative:
            return [Term(self.prior_points, net[None], w)]
        place = np.full((1, 1), 1.0 / cfg.sigma_place**2)
        xy = (cfg.sigma_prior / cfg.sigma_prior_xy) ** 2
        hidden = outside is not None and outside.any()  # else no term of zero weights
        terms = [Term(self.prior_points, net[None], w * ~outside if hidden else w, centre=(0,),
                      axis_weight=(xy, xy, 1.0))]  # fmt: skip
        if hidden:
            terms.append(Term(self.prior_points, net[None], w * outside, centre=(0,)))
        return [*terms, Term(self.prior_points, net[None, :1], place, rows=_PELVIS_ROWS)]

    def _evidence_terms(
        self, fit: BodyFit, mesh: MeshResult, posed: tuple[np.ndarray, np.ndarray]
    ) -> list[Term]:
        """MediaPipe's 2D and world landmarks as terms on the prior's landmark rows; `posed`:
        `fit`'s (rot_world, joints)."""
        cfg, obs = self.config, mesh.observation
        assert obs is not None
        w_img, h_img = obs.image_size_wh
        uv = obs.landmarks_px[:, :2].astype(np.float64)  # (33, 2)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < w_img) & (uv[:, 1] >= 0) & (uv[:, 1] < h_img)
        conf = np.minimum(obs.visibility, obs.presence).astype(np.float64)
        box_h = max(float(obs.bbox_xyxy[3] - obs.bbox_xyxy[1]), 1.0)
        wconf = _confidence_weight(conf, cfg) * self._jump_weight(uv, conf, box_h, mesh.t_ns)
        sigma_px = cfg.sigma_2d * box_h
        w2 = np.where(inside, wconf / sigma_px**2, 0.0)[None]
        terms = [
            Term(self.prior_points, uv[None], w2, K_cam=mesh.K.astype(np.float64),
                 robust=cfg.robust_2d * box_h, rows=_LANDMARK_ROWS),
        ]  # fmt: skip
        world = obs.world_landmarks.astype(np.float64)  # (33, 3) hip-centred, camera axes
        model = self.fitter.posed_points(fit, self.landmark_points, posed)[0]
        scale = _scale(
            model - model[list(POSE_HIPS)].mean(0), world - world[list(POSE_HIPS)].mean(0), wconf
        )
        ww = (wconf / cfg.sigma_world**2)[None]
        terms.append(Term(self.prior_points, scale * world[None], ww, centre=POSE_HIPS,
                          rows=_LANDMARK_ROWS))  # fmt: skip
        return terms

    def _jump_weight(self, uv: np.ndarray, conf: np.ndarray, box_h: float, t_ns: int) -> np.ndarray:
        """(33,) 1 for a landmark on the path of its last two confident readings, falling
        toward 0 as it jumps off it (`RefineConfig.jump_gate`); this reading is remembered."""
        gate, seen = self.config.jump_gate, self._readings
        weight = np.ones(len(uv))
        if seen and t_ns <= seen[-1][0]:  # time ran backwards (a clip read again): start over
            seen.clear()
        if gate > 0 and len(seen) == 2 and seen[1][0] > seen[0][0]:
            (t0, uv0, sure0), (t1, uv1, sure1) = seen
            expected = uv1 + (uv1 - uv0) * (t_ns - t1) / (t1 - t0)  # (33, 2)
            jump = np.linalg.norm(uv - expected, axis=-1) / (gate * box_h)
            weight = np.where(sure0 & sure1, 1.0 / (1.0 + jump**4), 1.0)
        self._readings = [*seen[-1:], (t_ns, uv.copy(), conf >= self.config.min_visibility)]
        return weight

    def _seat(self, fit: BodyFit, mesh: MeshResult) -> BodyFit:
        """The legs blended toward a hidden-legs pose by this track's weights (module
        docstring): the pose's weight moves toward 1 while the legs are hidden below the image,
        every weight toward 0 otherwise, at 1 / `seat_ramp_s` per second of media time; a new
        track starts where it is."""
        cfg = self.config
        obs = None if mesh.observation is None else upright_in_image(mesh.observation)
        in_view = obs is not None and _legs_in_view(obs, cfg)
        hidden = obs is not None and not in_view and _hips_at_bottom(obs, cfg)
        shoulders = None if obs is None else _shoulders(obs, cfg)
        if in_view:
            hips, knees = _leg_angles(obs.world_landmarks)
            if min(hips + knees) >= cfg.straight_deg and shoulders is not None:
                self._stood = shoulders
            elif min(hips) < cfg.seated_hip_deg:  # seen sitting or squatting
                self._stood = None
        if self._stood is None:
            self._hidden_pose = cfg.hidden_legs
        elif hidden and shoulders is not None:  # the drop in today's shoulder widths
            drop = (shoulders[0] - self._stood[0]) / max(shoulders[1], 1.0)
            self._hidden_pose = "standing" if drop < cfg.sit_drop else cfg.hidden_legs
        first = self._seat_t_ns is None
        dt = 0.0 if first else max(mesh.t_ns - self._seat_t_ns, 0) * 1e-9
        step = dt / max(cfg.seat_ramp_s, 1e-6)
        self._seat_t_ns = mesh.t_ns
        rot = fit.rot_local.copy()  # (1, 24, 3, 3)
        joints = list(_SEAT_JOINTS)
        for name in HIDDEN_LEGS:
            target = float(hidden and name == self._hidden_pose)
            w = self._leg_weights[name]
            w = target if first else w + float(np.clip(target - w, -step, step))
            self._leg_weights[name] = w
            w = w * w * (3.0 - 2.0 * w)  # smoothstep
            if w > 0.0:
                goal = matrices(_HIDDEN_LEG_ROTVECS[name])  # (4, 3, 3)
                delta = rotvecs(np.swapaxes(rot[:, joints], -1, -2) @ goal)  # (1, 4, 3)
                rot[:, joints] = rot[:, joints] @ matrices(w * delta)  # slerp by w
        return dataclasses.replace(fit, rot_local=rot)


def _confidence_weight(conf: np.ndarray, cfg: RefineConfig) -> np.ndarray:
    """Per landmark, its confidence times a ramp from 0 at `min_visibility - visibility_ramp`
    to 1 at `min_visibility + visibility_ramp` (a step at `min_visibility` when the ramp is 0)."""
    if cfg.visibility_ramp <= 0:
        return np.where(conf >= cfg.min_visibility, conf, 0.0)
    ramp = (conf - cfg.min_visibility) / (2.0 * cfg.visibility_ramp) + 0.5
    return conf * np.clip(ramp, 0.0, 1.0)


def _legs_in_view(obs: Observation, cfg: RefineConfig) -> bool:
    """A knee or ankle landmark is usable: confident and inside the image."""
    w_img, h_img = obs.image_size_wh
    idx = list(_KNEES_ANKLES)
    uv = obs.landmarks_px[idx, :2]  # (4, 2)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < w_img) & (uv[:, 1] >= 0) & (uv[:, 1] < h_img)
    conf = np.minimum(obs.visibility[idx], obs.presence[idx])
    return bool((inside & (conf >= cfg.min_visibility)).any())


def _leg_angles(world: np.ndarray) -> tuple[list[float], list[float]]:
    """Degrees of the (left, right) hips (shoulder-hip-knee) and knees (hip-knee-ankle) from
    world landmarks (33, 3); 180 = straight."""
    w = np.asarray(world, np.float64)

    def angle(a: int, b: int, c: int) -> float:
        u, v = w[a] - w[b], w[c] - w[b]
        cos = u @ v / max(float(np.linalg.norm(u) * np.linalg.norm(v)), 1e-9)
        return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))

    sides = zip(POSE_SHOULDERS, POSE_HIPS, POSE_KNEES, POSE_ANKLES, strict=True)  # left, right
    hips_knees = [(angle(s, h, k), angle(h, k, a)) for s, h, k, a in sides]
    return [hk[0] for hk in hips_knees], [hk[1] for hk in hips_knees]


def _shoulders(obs: Observation, cfg: RefineConfig) -> tuple[float, float] | None:
    """(y of the shoulders' middle, their distance) in pixels of `obs` (upright), or None
    without both shoulders sure."""
    idx = list(POSE_SHOULDERS)
    if np.minimum(obs.visibility[idx], obs.presence[idx]).min() < cfg.min_visibility:
        return None
    uv = obs.landmarks_px[idx, :2].astype(np.float64)
    return float(uv[:, 1].mean()), float(np.linalg.norm(uv[0] - uv[1]))


def _hips_at_bottom(obs: Observation, cfg: RefineConfig) -> bool:
    """The hips in the image's bottom band or below; `obs` upright (`roll.upright_in_image`:
    for a camera on its side, a side edge). With no usable knee or ankle: legs under a desk."""
    hip_y = float(obs.landmarks_px[list(POSE_HIPS), 1].mean())
    return hip_y >= (1.0 - cfg.seat_hip_band) * obs.image_size_wh[1]


def _hips_unseen(obs: Observation | None, cfg: RefineConfig) -> bool:
    """Either hip landmark below `min_visibility`, or the hips' mean below the image (turned
    upright for the person)."""
    if obs is None:
        return False
    obs = upright_in_image(obs)
    hips = list(POSE_HIPS)
    conf = np.minimum(obs.visibility[hips], obs.presence[hips])
    low = float(obs.landmarks_px[hips, 1].mean()) >= obs.image_size_wh[1]
    return bool(conf.min() < cfg.min_visibility or low)


def _hidden(net: np.ndarray, mesh: MeshResult, refine: bool) -> np.ndarray | None:
    """(K,) bool: the prior's points `net` (K, 3) the network places outside the image, when
    its hips are out too (a head-and-shoulders view: everything below hangs from a hidden
    pelvis); None otherwise (points beyond a visible knee or hip are held by their joints)."""
    if not refine:
        return None
    assert mesh.observation is not None
    w_img, h_img = mesh.observation.image_size_wh
    z = np.maximum(net[:, 2], 1e-3)
    uv = net[:, :2] / z[:, None] * np.diag(mesh.K)[:2] + mesh.K[:2, 2]  # (K, 2)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < w_img) & (uv[:, 1] >= 0) & (uv[:, 1] < h_img)
    outside = ~inside | (net[:, 2] <= 1e-3)
    return outside if outside[_LANDMARK_ROWS[list(POSE_HIPS)]].all() else None


def _scale(model_rel: np.ndarray, world_rel: np.ndarray, w: np.ndarray) -> float:
    """Least-squares scale s of `world_rel` onto `model_rel` (MediaPipe's skeleton is small)."""
    den = float((w[:, None] * world_rel**2).sum())
    return float((w[:, None] * world_rel * model_rel).sum()) / den if den > 1e-9 else 1.0
