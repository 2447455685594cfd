"""Streaming inference: one observation in, one body mesh in camera coordinates out.

Per pushed frame the predictor turns the observation into network input (`model_input.prepare`),
runs `STDFormer.encode_frame` once (N = 1) and caches the result in a `FeatureBuffer` of T
frames; then `STDFormer.decode_window` runs SD/TD/fusion over the buffered window (cheap) and the
transformer + heads for one frame only: the newest (`lookahead=0`, causal) or the
frame `lookahead` positions before it (k frames of latency for k frames of future context).
The window is exactly the clip that clip mode (`STDFormer.forward`) would see, so streaming and
clip results agree to float rounding. Until T frames have arrived the window is left-padded
with the first frame (see `FeatureBuffer`); `flush()` right-pads with the last frame to emit the
outputs still owed at the end of a stream; `reset()` starts over when the subject is lost.

Camera: the network predicts a weak-perspective camera (s, tx, ty) in crop-normalised
coordinates ((-1, -1) and (1, 1) are the crop corners), `xy_n = s * (XY + t)`, for root-relative
3D points. A full-image pixel is then `u = cx + (w_crop / 2) * xy_n` with crop centre (cx, cy)
and crop side w_crop. A pinhole camera K = [[f, 0, W/2], [0, f, H/2], [0, 0, 1]] sees a point
P + T_cam at `u = f (X + Tx) / (Z + Tz) + W/2`. Matching both for the root plane (Z = 0):

    Tz = 2 f / (s * w_crop),   Tx = tx + 2 (cx - W/2) / (s * w_crop),   (Ty likewise with cy, H)

which makes the projection exact for points at the root's depth and off by the usual
weak-perspective error, a factor Tz / (Tz + Z) around the principal point, elsewhere. The focal
length defaults to f = max(W, H) (about 53 degrees across the long side), or comes from a
configured field of view.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

from stdformer.inference.buffer import FeatureBuffer
from stdformer.inference.model_input import input_crop, prepare
from stdformer.inference.refine import BodyRefiner
from stdformer.inference.roll import RollGuard, quarter_rotation, turn_observation
from stdformer.inference.traced import TraceMode, WindowDecoder
from stdformer.model.stdformer import STDFormer
from stdformer.types import MeshResult, Observation

log = logging.getLogger(__name__)

_MIN_SCALE = 1e-2  # weak-perspective scales below this (untrained nets) would put Tz at infinity


# The camera's field of view across the image's long side when nobody says (`--fov`): where
# the body is placed in depth (root-relative poses barely depend on it). The real multi-view
# set's cameras have 59.5 deg, webcams and phones mostly 55-75, the held-out renders 55-78.
# Root (pelvis) position against the truth (`evaluate`'s root), this default vs the 53.1 deg of
# f = max(W, H) before it, live: real set front / back 267 / 192 mm vs 520 / 487 (depth
# 0.93-1.12x the truth vs 1.07-1.30x: what remains is body size); held-out renders full body /
# knees cut / upper body 738 / 394 / 425 mm vs 1231 / 538 / 617. PA-MPJPE within 0.4 mm.
DEFAULT_FOV_DEG = 60.0


@dataclass(frozen=True)
class PredictorConfig:
    """Run-time options. `device`: "auto" (CUDA when present), "cpu", "cuda", "cuda:1"...

    `precision`: "fp32", or "fp16"/"bf16" autocast (CUDA only; ignored on the CPU with a log
    line). `fov_deg`: the camera's field of view across the image's long side (`focal_length_px`).
    `cpu_threads`: torch intra-op threads to use when running on the CPU (process-wide
    `torch.set_num_threads`, applied when the predictor is built); None leaves torch's setting.
    The landmark model's matrices are small: 1 thread avoids spin-waiting on a busy machine.
    `trace`: run the per-frame network as a frozen TorchScript graph (`traced.WindowDecoder`:
    the same values, the GIL free while it runs), traced on the first frame ("blocking") or
    in a background thread ("background", the live session); autocast precisions run eager.
    """

    lookahead: int = 0
    device: str = "auto"
    precision: str = "fp32"
    fov_deg: float = DEFAULT_FOV_DEG
    cpu_threads: int | None = None
    trace: TraceMode = "blocking"


def resolve_device(name: str) -> torch.device:
    """ "auto" -> cuda if available else cpu; anything else is passed to torch.device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {name!r} requested but CUDA is not available here; use --device cpu or auto"
        )
    return device


def focal_length_px(image_size_wh: tuple[int, int], fov_deg: float = DEFAULT_FOV_DEG) -> float:
    """f in pixels of a camera whose field of view across the image's long side is `fov_deg`."""
    if not 0.0 < fov_deg < 180.0:
        raise ValueError(f"field of view must be in (0, 180) degrees, got {fov_deg}")
    return 0.5 * float(max(image_size_wh)) / math.tan(math.radians(fov_deg) / 2.0)


def intrinsics(image_size_wh: tuple[int, int], focal_px: float) -> np.ndarray:
    """(3, 3) float32 pinhole K with the principal point at the image centre."""
    w, h = image_size_wh
    return np.array([[focal_px, 0, w / 2.0], [0, focal_px, h / 2.0], [0, 0, 1]], np.float32)


def weak_to_full_translation(
    cam_wp: np.ndarray,  # (3,) s, tx, ty
    crop_xyxy: np.ndarray,  # (4,)
    image_size_wh: tuple[int, int],
    focal_px: float,
) -> np.ndarray:
    """Camera-frame translation (3,) of the root for the full-image pinhole camera."""
    s = max(float(cam_wp[0]), _MIN_SCALE)
    crop = np.asarray(crop_xyxy, np.float64)
    side = float(max(crop[2] - crop[0], crop[3] - crop[1]))  # square crop, as the front-ends
    cx, cy = 0.5 * (crop[0] + crop[2]), 0.5 * (crop[1] + crop[3])
    w, h = image_size_wh
    sw = s * side
    return np.array(
        [
            float(cam_wp[1]) + 2.0 * (cx - w / 2.0) / sw,
            float(cam_wp[2]) + 2.0 * (cy - h / 2.0) / sw,
            2.0 * focal_px / sw,
        ]
    )


class Predictor:
    """Frame-by-frame mesh recovery with a rolling buffer (see module docstring).

    `joint_regressor` (J, Vf), when given, defines `MeshResult.joints_cam` as regressed from the
    full mesh (body-model joint order, row 0 = pelvis), and the mesh is first centred on that
    regressed pelvis: like FastMETRO, whose losses and projection see pelvis-centred predictions,
    so the raw network output may carry any global offset (converted official weights do). For
    networks trained on pelvis-centred targets this is a no-op up to their error. Without a
    regressor the network's own joint tokens are returned (`config.n_joints` of them, in the order
    the network was trained with: H36M-14 for the paper) and coordinates are used as they are.
    The model is moved to the device once here; per frame only the input goes to the device and
    the result comes back.
    """

    def __init__(
        self,
        model: STDFormer,
        config: PredictorConfig | None = None,
        joint_regressor: np.ndarray | None = None,
        refiner: BodyRefiner | None = None,
    ) -> None:
        self.config = config or PredictorConfig()
        self.refiner = refiner  # poses the body model on the network mesh (+ evidence)
        if not 0 <= self.config.lookahead < model.T:
            raise ValueError(
                f"lookahead must be in [0, T-1={model.T - 1}], got {self.config.lookahead}"
            )
        if self.config.precision not in ("fp32", "fp16", "bf16"):
            raise ValueError(f"precision must be fp32, fp16 or bf16, got {self.config.precision!r}")
        self.device = resolve_device(self.config.device)
        if self.device.type == "cpu" and self.config.cpu_threads is not None:
            torch.set_num_threads(max(1, self.config.cpu_threads))
        self.model = model.to(self.device).eval()
        self._frontend_kind = model.config.frontend  # "landmarks" or "image": its input
        self.buffer = FeatureBuffer(model.T)
        self._pending: deque[Observation] = deque()  # frames awaiting their look-ahead
        # People lying or upside down are shown to the network upright (`roll`): the landmark
        # front-end only (the image front-end would need its crops turned too). The window's
        # observations are kept to encode them again when the quarter turn changes.
        self._roll = RollGuard() if self._frontend_kind == "landmarks" else None
        self._window_obs: deque[Observation] = deque(maxlen=model.T)
        regressor = None
        if joint_regressor is not None:
            regressor = torch.as_tensor(joint_regressor, dtype=torch.float32, device=self.device)
        if self.config.precision != "fp32" and self.device.type != "cuda":
            log.info(
                "precision %s needs CUDA; running fp32 on %s", self.config.precision, self.device
            )
        autocast = self.device.type == "cuda" and self.config.precision != "fp32"
        self._decode = WindowDecoder(
            model,
            model.T - 1 - self.lookahead,  # the output frame's slot in the window
            regressor,
            trace="off" if autocast else self.config.trace,
        )

    @property
    def lookahead(self) -> int:
        return self.config.lookahead

    def reset(self) -> None:
        """Drop the buffer and pending frames (the subject was lost or the source changed).

        With look-ahead, call `flush()` first to still get the meshes of the pending frames.
        """
        self.buffer.reset()
        self._pending.clear()
        self._window_obs.clear()
        if self._roll is not None:
            self._roll.reset()
        if self.refiner is not None:
            self.refiner.reset()

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.device.type == "cuda" and self.config.precision in ("fp16", "bf16"):
            dtype = torch.float16 if self.config.precision == "fp16" else torch.bfloat16
            return torch.autocast("cuda", dtype=dtype)
        return contextlib.nullcontext()

    def push(
        self, observation: Observation, image_bgr: np.ndarray | None = None
    ) -> MeshResult | None:
        """Add one frame; return the mesh of frame (newest - lookahead), None while that is owed.

        `image_bgr` (H, W, 3) uint8 is needed by the image front-end (it crops
        `observation.crop_xyxy`), ignored by the landmark front-end.
        """
        t0 = time.perf_counter()
        if self._roll is not None and self._roll.update(observation):
            self._encode_window_again()
        self._encode(observation, image_bgr)
        self._window_obs.append(observation)
        self._pending.append(observation)
        encode_ms = (time.perf_counter() - t0) * 1e3
        if len(self._pending) <= self.lookahead:
            return None
        return self._emit(encode_ms)

    @property
    def quarter(self) -> int:
        """The quarter turn (clockwise, x 90 deg) the network's view is turned back by."""
        return 0 if self._roll is None else self._roll.quarter

    def _encode(self, observation: Observation, image_bgr: np.ndarray | None) -> None:
        seen = turn_observation(observation, -self.quarter)  # the person upright
        x = prepare(self._frontend_kind, seen, image_bgr)  # (*in) CPU float32
        with torch.inference_mode(), self._autocast():
            feats = self.model.encode_frame(x.to(self.device, non_blocking=True)[None])
            self.buffer.push(feats[0])

    def _encode_window_again(self) -> None:
        """The buffered frames as the new quarter turn shows them (landmark front-end only)."""
        self.buffer.reset()
        for obs in self._window_obs:
            self._encode(obs, None)

    def flush(self) -> list[MeshResult]:
        """End of stream: emit the frames still waiting for look-ahead (last frame repeated)."""
        results: list[MeshResult] = []
        if not self._pending or self.buffer.frames_pushed == 0:
            return results
        # The oldest pending frame needs `lookahead` frames after it before it sits in its
        # output slot; a stream shorter than the look-ahead has fewer, so pad those first.
        missing = self.lookahead - len(self._pending)
        while self._pending:
            with torch.inference_mode():
                self.buffer.push(self.buffer.window()[-1])
            if missing > 0:
                missing -= 1
                continue
            results.append(self._emit(0.0))
        return results

    def _emit(self, encode_ms: float) -> MeshResult:
        observation = self._pending.popleft()
        t1 = time.perf_counter()
        with torch.inference_mode():
            with self._autocast():
                window = self.buffer.window()[None]  # (1, T, *feat)
                # (3,), (J, 3), (Vf, 3); centred on the regressed pelvis (class docstring)
                cam, joints, verts = self._decode(window)
            verts_np, joints_np = verts.cpu().numpy(), joints.cpu().numpy()
            cam_np = cam.cpu().numpy()
        t2 = time.perf_counter()
        return self.to_mesh_result(
            observation,
            verts_np,
            joints_np,
            cam_np,
            {"encode": encode_ms, "network": encode_ms + (t2 - t1) * 1e3},
        )

    def to_mesh_result(
        self,
        observation: Observation,
        verts_rel: np.ndarray,  # (Vf, 3) root-relative, crop-camera axes
        joints_rel: np.ndarray,  # (J, 3)
        cam_wp: np.ndarray,  # (3,)
        timings_ms: dict[str, float] | None = None,
    ) -> MeshResult:
        """Place root-relative predictions in the full image's camera (module docstring); with
        a quarter turn (`roll`) they are placed in the turned camera, then turned back."""
        f = focal_length_px(observation.image_size_wh, self.config.fov_deg)
        seen = turn_observation(observation, -self.quarter)
        crop = input_crop(self._frontend_kind, seen)  # the square the camera refers to
        transl = weak_to_full_translation(cam_wp, crop, observation.image_size_wh, f)
        verts, joints = verts_rel + transl, joints_rel + transl
        if self.quarter:
            back = quarter_rotation(self.quarter).T  # row vectors: p @ R.T turns them back
            verts, joints = verts @ back, joints @ back
        result = MeshResult(
            vertices_cam=verts.astype(np.float32),
            joints_cam=joints.astype(np.float32),
            K=intrinsics(observation.image_size_wh, f),
            bbox_xyxy=np.asarray(observation.bbox_xyxy, np.float32).copy(),
            t_ns=observation.t_ns,
            index=observation.index,
            observation=observation,
            timings_ms=dict(timings_ms or {}),
        )
        return result if self.refiner is None else self.refiner(result)
