"""Live stream of the fitted body to avatar apps in the VMC protocol (OSC over UDP).

    sender = VmcSender("127.0.0.1", 39539, body_model=None)   # None: the default body
    sender.attach(session)        # a subscriber like the recorder; sends one bundle per result
    sender.status()               # for the GUI: target, bundles sent, the last error
    sender.detach(session)

Per session result one OSC bundle (https://protocol.vmc.info/specification):
`/VMC/Ext/OK (i)1 (i)3 (i)0 (i)tracking` (loaded, calibrated, normal mode, tracking 1 when this
frame has a fitted body), `/VMC/Ext/T (f)seconds since the first result`, and, with a fitted
body, `/VMC/Ext/Root/Pos "root"` plus one `/VMC/Ext/Bone/Pos (s)name (f)px py pz (f)qx qy qz qw`
per Unity humanoid bone. A result without a fitted body (subject absent, fit off) sends OK with
tracking 0 and T only.

Bones (SMPL joint -> Unity HumanBodyBones): pelvis Hips, spine1 Spine, spine2 Chest, spine3
UpperChest, neck Neck, head Head, *_collar *Shoulder, *_shoulder *UpperArm, *_elbow *LowerArm,
*_wrist *Hand, *_hip *UpperLeg, *_knee *LowerLeg, *_ankle *Foot, *_foot *Toes (Left/Right are
the person's own sides). SMPL's hand tips are not sent (Unity's fingers have no counterpart).

Axes and handedness: Unity is left-handed, Y up, an avatar faces +Z with its left hand at -X.
The body model's rest frame is right-handed, Y up, facing +Z with its left hand at +X, so it
maps to Unity by mirroring X: p_unity = (-x, y, z), and a rotation R to M R M (M = diag(-1, 1, 1)),
i.e. quaternion (x, y, z, w) -> (x, -y, -z, w). OpenCV camera points (x right, y down, z forward)
therefore map by (x, y, z) -> (-x, -y, -z): a person facing the webcam faces +Z in Unity,
their left is the avatar's left (not a mirror image).

Rotations are each bone's local rotation relative to the body's rest pose, a T-pose (arms
horizontal within 2 degrees, legs straight, facing +Z) in which every bone's rotation is
identity: the receiver must assume that rest, as VRM-normalised avatars do (T-pose = identity
local rotations). Hips carries the global orientation and the position: Hips position is the
pelvis relative to the floor point under the pelvis of the first fitted frame (so the avatar
starts at the origin, hips at their rest height, and moves as the person moves); Root/Pos
stays at the origin with identity rotation. Other bones send their rest offset from the parent
(Unity axes, metres) as position.

Never blocking: the UDP socket is non-blocking, a full send buffer drops that bundle, and the
subscription thread (not the capture loop) does the work. A host that cannot be reached or
resolved gives one status message (logged once) and the capture goes on; sending resumes by
itself when the host is reachable again.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from scipy.spatial.transform import Rotation

from stdformer.types import BodyParams

if TYPE_CHECKING:
    from stdformer.body.body_model import BodyModel
    from stdformer.session.session import Session, SessionResult
    from stdformer.session.subscribers import Subscription

log = logging.getLogger(__name__)

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 39539
UNITY_BONES: tuple[tuple[str, int], ...] = (  # (Unity HumanBodyBones name, SMPL joint index)
    ("Hips", 0), ("LeftUpperLeg", 1), ("RightUpperLeg", 2), ("Spine", 3),
    ("LeftLowerLeg", 4), ("RightLowerLeg", 5), ("Chest", 6), ("LeftFoot", 7), ("RightFoot", 8),
    ("UpperChest", 9), ("LeftToes", 10), ("RightToes", 11), ("Neck", 12),
    ("LeftShoulder", 13), ("RightShoulder", 14), ("Head", 15), ("LeftUpperArm", 16),
    ("RightUpperArm", 17), ("LeftLowerArm", 18), ("RightLowerArm", 19), ("LeftHand", 20),
    ("RightHand", 21),
)  # fmt: skip
UNITY_FROM_CAM = np.diag([-1.0, -1.0, -1.0])  # OpenCV camera -> Unity axes (module docstring)
MIRROR_X = np.diag([-1.0, 1.0, 1.0])  # body rest frame -> Unity axes


def parse_target(text: str) -> tuple[str, int]:
    """ "HOST:PORT" (or "HOST", or ":PORT") -> (host, port); ValueError with what is wrong."""
    host, _, port_text = text.strip().rpartition(":") if ":" in text else (text.strip(), "", "")
    host = host.strip() or DEFAULT_HOST
    try:
        port = int(port_text) if port_text.strip() else DEFAULT_PORT
    except ValueError:
        raise ValueError(f"VMC target {text!r}: the port must be a number, e.g. {DEFAULT_HOST}:"
                         f"{DEFAULT_PORT}") from None  # fmt: skip
    if not 1 <= port <= 65535:
        raise ValueError(f"VMC target {text!r}: the port must be between 1 and 65535")
    return host, port


def unity_quaternion(rotation: np.ndarray) -> np.ndarray:  # (..., 3, 3) -> (..., 4) xyzw
    """A rotation of the right-handed body frame as a Unity quaternion (x, -y, -z, w)."""
    q = Rotation.from_matrix(rotation.reshape(-1, 3, 3)).as_quat()
    q[:, 1:3] *= -1
    return q.reshape(*rotation.shape[:-2], 4)


@dataclass(frozen=True)
class VmcStatus:
    target: str  # "host:port"
    bundles_sent: int
    bones_sent: int  # bundles that carried the bones (frames with a fitted body)
    error: str | None  # the current problem, None while sending works


class VmcSender:
    """Session subscriber streaming the fitted body in the VMC protocol (module docstring)."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        body_model: str | os.PathLike[str] | BodyModel | None = None,
    ) -> None:
        self.host, self.port = host, int(port)
        self._body_source = body_model
        self._body: BodyModel | None = None
        self._rest_cache: tuple[bytes, np.ndarray, float] | None = None  # betas -> rest joints
        self._origin: np.ndarray | None = None  # floor point under the first pelvis, Unity axes
        self._t0_ns: int | None = None
        self._address: tuple[str, int] | None = None
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._lock = threading.Lock()
        self._sent = self._bones_sent = 0
        self._error: str | None = None
        self.subscription: Subscription[SessionResult] | None = None

    # ------------------------------------------------------------------ session wiring
    def attach(self, session: Session) -> Subscription[SessionResult]:
        """Subscribe to every result (a short queue: a stalled network drops, never blocks)."""
        self.subscription = session.subscribe(
            self.on_result, name="vmc", every_frame=True, queue_size=4, on_close=self.close
        )
        return self.subscription

    def detach(self, session: Session) -> None:
        if self.subscription is not None:
            session.unsubscribe(self.subscription)
            self.subscription = None
        self.close()

    def close(self) -> None:
        self._sock.close()

    def status(self) -> VmcStatus:
        with self._lock:
            return VmcStatus(f"{self.host}:{self.port}", self._sent, self._bones_sent, self._error)

    # ------------------------------------------------------------------ per result
    def on_result(self, result: SessionResult) -> None:
        """Send one bundle for `result` (runs in the subscription thread)."""
        mesh = result.meshes[-1] if result.meshes else None
        body = None if mesh is None else mesh.body
        if self._t0_ns is None:
            self._t0_ns = result.frame.t_ns
        seconds = (result.frame.t_ns - self._t0_ns) / 1e9
        self.send(body, seconds)

    def send(self, body: BodyParams | None, seconds: float) -> None:
        """Send the bundle of one frame: its fitted body (None: not tracked) at `seconds`."""
        parts = [_OK.encode(int(body is not None)), _T.encode(seconds)]
        if body is not None:
            for encoder, (_, pos, quat) in zip(_BONES, self.bones(body), strict=True):
                parts.append(encoder.encode(*pos, *quat))  # both in UNITY_BONES' order
            parts.append(_ROOT)
        self._transmit(_bundle(parts), body is not None)

    def bones(self, body: BodyParams) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(Unity bone name, local position (3,), local rotation xyzw (4,)) in Unity axes."""
        rest, hips_height = self._rest(body.betas)
        pose = np.concatenate([body.global_orient, body.body_pose]).reshape(24, 3)
        rot = Rotation.from_rotvec(pose.astype(np.float64)).as_matrix()  # (24, 3, 3)
        quat = unity_quaternion(rot)  # (24, 4) body joints: local, rest frame -> Unity
        # Hips: maps the avatar's rest (Unity axes, = M body rest) to the camera seen in Unity
        # axes: UNITY_FROM_CAM @ R(global_orient) @ M, a proper rotation (two reflections).
        quat[0] = Rotation.from_matrix(UNITY_FROM_CAM @ rot[0] @ MIRROR_X).as_quat()
        pelvis = UNITY_FROM_CAM @ (rest[0] + body.transl.astype(np.float64))
        if self._origin is None:
            self._origin = pelvis - np.array([0.0, hips_height, 0.0])
        parents = self._body.parents  # type: ignore[union-attr]
        offsets = (rest - rest[np.maximum(parents, 0)]) @ MIRROR_X
        out = []
        for name, j in UNITY_BONES:
            pos = pelvis - self._origin if j == 0 else offsets[j]
            out.append((name, pos, quat[j]))
        return out

    def _rest(self, betas: np.ndarray) -> tuple[np.ndarray, float]:
        """Rest joints (24, 3) of this shape and the pelvis height above the soles."""
        key = np.asarray(betas, np.float32).tobytes()
        if self._rest_cache is None or self._rest_cache[0] != key:
            body = self._load_body()
            with torch.no_grad():
                out = body(betas=torch.as_tensor(np.asarray(betas, np.float32))[None])
            joints = out.joints[0].double().numpy()
            height = float(joints[0, 1] - out.vertices[0, :, 1].min())
            self._rest_cache = (key, joints, height)
        return self._rest_cache[1], self._rest_cache[2]

    def _load_body(self) -> BodyModel:
        if self._body is None:
            from stdformer.body.body_model import BodyModel, load_body_model

            src = self._body_source
            self._body = src if isinstance(src, BodyModel) else load_body_model(src)
        return self._body

    def _transmit(self, data: bytes, with_bones: bool) -> None:
        error = None
        try:
            if self._address is None:
                info = socket.getaddrinfo(self.host, self.port, socket.AF_INET, socket.SOCK_DGRAM)
                self._address = info[0][4]
            self._sock.sendto(data, self._address)
        except BlockingIOError:
            return  # the send buffer is full: drop this bundle, never wait
        except OSError as exc:  # unresolvable or unreachable host, no network
            error = f"VMC: cannot send to {self.host}:{self.port} ({exc.strerror or exc}); "
            error += "capture goes on"
        with self._lock:
            if error is not None and self._error is None:
                log.warning("%s", error)  # once per outage, not per frame
            self._error = error
            if error is None:
                self._sent += 1
                self._bones_sent += int(with_bones)


class _Encoder:
    """One OSC message whose trailing numbers (`kinds`: "i" int32, "f" float32) change per
    frame: python-osc encodes it once, with its `fixed` leading arguments and zeros for the
    rest; a frame only packs the numbers (`struct`, big-endian as OSC) in place of the zeros.
    A 22-bone bundle takes ~0.1 ms instead of ~0.9 ms of building it with python-osc."""

    def __init__(self, address: str, fixed: tuple[tuple[str, object], ...], kinds: str) -> None:
        msg = OscMessageBuilder(address)
        for kind, value in fixed:
            msg.add_arg(value, kind)
        for kind in kinds:
            msg.add_arg(0 if kind == "i" else 0.0, kind)
        dgram = msg.build().dgram
        self._head = dgram[: len(dgram) - 4 * len(kinds)]
        self._pack = struct.Struct(">" + kinds).pack

    def encode(self, *values: float) -> bytes:
        return self._head + self._pack(*values)


def _bundle(messages: list[bytes]) -> bytes:
    """An OSC bundle (time tag 'immediately') of encoded messages, each after its size."""
    return _BUNDLE_HEAD + b"".join(struct.pack(">i", len(m)) + m for m in messages)


_BUNDLE_HEAD = OscBundleBuilder(IMMEDIATELY).build().dgram  # "#bundle\0" + time tag
_OK = _Encoder("/VMC/Ext/OK", (("i", 1), ("i", 3), ("i", 0)), "i")  # + tracking 0/1
_T = _Encoder("/VMC/Ext/T", (), "f")
_BONES = [_Encoder("/VMC/Ext/Bone/Pos", (("s", name),), "f" * 7) for name, _ in UNITY_BONES]
_ROOT = _Encoder("/VMC/Ext/Root/Pos", (("s", "root"),), "f" * 7).encode(0, 0, 0, 0, 0, 0, 1)
