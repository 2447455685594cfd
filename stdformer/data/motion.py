"""Procedural human motion at 30 fps, in SMPL pose parameters, without motion-capture data.

No free motion capture is reachable from the package registries (environment-facts.md), so
motion is generated: scripted activities (walking, waving, reaching, arm raises, squats, lunges,
jumps, jumping jacks, boxing, bending, sitting down and standing up, seated desk work) and smooth
random motion, all on top of a little "life" (breathing sway, head motion). Every activity is a
set of joint-angle channels over time; timing follows human rates (steps at 1.6-2 Hz, punches
out in ~0.15 s, minimum-jerk reaches of 0.4-1.5 s). Angles are clipped to `JOINT_LIMITS`.

Angle conventions (SMPL rest pose: T-pose, Y up, facing +Z, the body's left at +X). Channels
are intrinsic Euler angles "XYZ" in degrees per joint, written for the LEFT side; the right
side is the mirror image (x kept, y and z negated). With these axes: hip flexion (thigh forward)
is -x, knee flexion +x, ankle plantar flexion +x, spine/neck forward bend +x, twist y, lateral
lean z; left shoulder: arm down -z, arm forward -y, upper-arm twist x; left elbow flexion -y.

Root: `global_orient` = yaw (about Y) * pitch (forward lean, about X) * roll; `transl` is the
root path on the floor plane. Feet are put on the floor by `stdformer.data.scene.ground`, which
needs the body model (jumps add a ballistic `lift`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation

from stdformer.body.smpl_file import SMPL_JOINT_NAMES

FPS = 30.0
# (lo, hi) degrees per Euler channel x, y, z, written for the left side (module docstring).
JOINT_LIMITS: dict[str, tuple[tuple[float, float], ...]] = {
    "spine1": ((-20, 40), (-20, 20), (-15, 15)),
    "spine2": ((-15, 30), (-20, 20), (-15, 15)),
    "spine3": ((-15, 30), (-20, 20), (-15, 15)),
    "neck": ((-30, 40), (-45, 45), (-25, 25)),
    "head": ((-25, 30), (-35, 35), (-20, 20)),
    "hip": ((-125, 30), (-40, 45), (-20, 50)),
    "knee": ((0, 145), (-5, 5), (-5, 5)),
    "ankle": ((-30, 45), (-15, 15), (-15, 15)),
    "foot": ((-20, 30), (-5, 5), (-5, 5)),
    "collar": ((-15, 15), (-20, 20), (-10, 30)),
    "shoulder": ((-95, 95), (-115, 50), (-95, 85)),
    "elbow": ((-80, 80), (-150, 0), (-10, 10)),
    "wrist": ((-40, 40), (-30, 30), (-70, 70)),
    "hand": ((-15, 15), (-15, 15), (-20, 20)),
}
SIDED = ("hip", "knee", "ankle", "foot", "collar", "shoulder", "elbow", "wrist", "hand")
ACTIVITIES = (
    "walk", "walk_in_place", "wave", "reach", "arm_raise", "squat", "lunge", "jump",
    "jumping_jacks", "boxing", "bend", "sit_stand", "desk_typing", "desk_gesture",
    "desk_lean", "random", "random_seated",
)  # fmt: skip
SEATED = ("desk_typing", "desk_gesture", "desk_lean", "random_seated")


@dataclass(frozen=True)
class Motion:
    """One generated clip. World frame: Y up, metres; the floor is placed by `scene.ground`."""

    activity: str
    betas: np.ndarray  # (10,) shape coefficients (unit variance)
    scale: float  # uniform body scale (children < 1)
    global_orient: np.ndarray  # (N, 3) axis-angle, world
    body_pose: np.ndarray  # (N, 69) axis-angle of joints 1..23
    transl: np.ndarray  # (N, 3) root path on the floor plane (y filled in by grounding)
    lift: np.ndarray  # (N,) metres the lowest foot is above the floor (jumps)
    euler_deg: np.ndarray  # (N, 24, 3) the clipped channels behind body_pose (tests, limits)
    fps: float = FPS

    @property
    def n_frames(self) -> int:
        return int(self.body_pose.shape[0])


def joint_limits(name: str) -> np.ndarray:
    """(3, 2) limits in degrees of SMPL joint `name` in its own side's channel convention."""
    if name == "pelvis":
        return np.array([[-180, 180]] * 3, np.float64)
    side, _, base = name.partition("_")
    table = np.array(JOINT_LIMITS[base if base in SIDED else name], np.float64)
    if side == "right":  # mirror: y and z change sign, so their ranges flip
        table[1:] = -table[1:, ::-1]
    return table


LIMITS = np.stack([joint_limits(n) for n in SMPL_JOINT_NAMES])  # (24, 3, 2)


class Channels:
    """Euler channels (N, 24, 3) in degrees, built up by activities."""

    def __init__(self, n: int) -> None:
        self.deg = np.zeros((n, 24, 3))
        self.n = n

    def add(self, joint: str, x: object = 0.0, y: object = 0.0, z: object = 0.0) -> None:
        j = SMPL_JOINT_NAMES.index(joint)
        self.deg[:, j] += np.stack(np.broadcast_arrays(x, y, z, np.zeros(self.n)))[:3].T

    def side(self, side: str, base: str, x: object = 0.0, y: object = 0.0, z: object = 0.0):
        """Add left-convention channels to one side (mirrored for the right)."""
        sgn = 1.0 if side == "left" else -1.0
        self.add(f"{side}_{base}", x, sgn * np.asarray(y), sgn * np.asarray(z))

    def both(self, base: str, x: object = 0.0, y: object = 0.0, z: object = 0.0) -> None:
        for s in ("left", "right"):
            self.side(s, base, x, y, z)


def min_jerk(u: np.ndarray) -> np.ndarray:
    """Minimum-jerk profile 0 -> 1 for u in [0, 1] (clipped outside)."""
    u = np.clip(u, 0.0, 1.0)
    return u**3 * (10 - 15 * u + 6 * u**2)


def pulse(t: np.ndarray, start: float, hold: float, ramp: float) -> np.ndarray:
    """0 -> 1 (min-jerk over `ramp` s from `start`), held `hold` s, back to 0 over `ramp` s."""
    return min_jerk((t - start) / ramp) - min_jerk((t - start - ramp - hold) / ramp)


def keyframes(t: np.ndarray, rng: np.random.Generator, lo, hi, dt=(0.4, 1.5), start=None):
    """Min-jerk moves between random targets in [lo, hi] at random intervals: (N, *shape)."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    cur = rng.uniform(lo, hi) if start is None else np.asarray(start, float)
    out = np.empty((len(t), *np.shape(cur)))
    t0, seg_start, seg_end = 0.0, cur, cur
    dur = 1.0
    for i, ti in enumerate(t):
        while ti >= t0 + dur:
            t0 += dur
            seg_start, seg_end = seg_end, rng.uniform(lo, hi)
            dur = rng.uniform(*dt)
        w = min_jerk(np.asarray((ti - t0) / dur))
        out[i] = seg_start + w * (seg_end - seg_start)
    return out


def smooth_noise(rng: np.random.Generator, n: int, dims: int, sigma_frames: float) -> np.ndarray:
    """(n, dims) zero-mean unit-std noise, low-passed with a Gaussian of `sigma_frames`."""
    pad = int(4 * sigma_frames)
    x = gaussian_filter1d(rng.standard_normal((n + 2 * pad, dims)), sigma_frames, axis=0)
    # The filter's gain, not the clip's sample std: short clips of slow noise must stay small.
    gain = np.sqrt(np.sum(_gaussian_kernel(sigma_frames) ** 2))
    return x[pad : pad + n] / gain


def _gaussian_kernel(sigma: float) -> np.ndarray:
    r = int(4 * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return k / k.sum()


# --------------------------------------------------------------------------- postures
def standing(c: Channels, rng: np.random.Generator) -> None:
    """Relaxed stance: arms down at the sides, elbows a little bent."""
    c.both("shoulder", z=rng.uniform(-75, -62), y=rng.uniform(-8, 4))
    c.both("elbow", y=rng.uniform(-20, -5))
    c.both("hip", z=rng.uniform(0, 5))


def seated(c: Channels, rng: np.random.Generator) -> np.ndarray:
    """Sitting on a chair: thighs horizontal, shins vertical. Returns the pelvis pitch (deg)."""
    pitch = rng.uniform(-8, 8)
    knee = rng.uniform(80, 105)
    c.both("hip", x=-90 - pitch, z=rng.uniform(2, 12))
    c.both("knee", x=knee)
    c.both("ankle", x=-(knee - 90))
    return np.full(c.n, pitch)


def flat_feet(c: Channels, pitch: np.ndarray) -> None:
    """Set both ankles so the feet stay level given pelvis pitch, hip and knee flexion."""
    for s in ("left", "right"):
        hip = c.deg[:, SMPL_JOINT_NAMES.index(f"{s}_hip"), 0]
        knee = c.deg[:, SMPL_JOINT_NAMES.index(f"{s}_knee"), 0]
        c.deg[:, SMPL_JOINT_NAMES.index(f"{s}_ankle"), 0] = -(pitch + hip + knee)


def life(c: Channels, t: np.ndarray, rng: np.random.Generator, amount: float = 1.0) -> None:
    """Small continuous motion: breathing sway, head turns, fidgeting arms."""
    n = c.n
    noise = smooth_noise(rng, n, 9, sigma_frames=rng.uniform(8, 20)) * amount
    c.add("spine2", x=2 * noise[:, 0], y=2 * noise[:, 1], z=1.5 * noise[:, 2])
    c.add("neck", x=4 * noise[:, 3], y=8 * noise[:, 4], z=3 * noise[:, 5])
    c.add("head", x=3 * noise[:, 6], y=5 * noise[:, 4])
    c.both("shoulder", y=3 * noise[:, 7], z=3 * noise[:, 8])
    c.add("spine1", x=1.0 * np.sin(2 * np.pi * t / rng.uniform(3.5, 5.0)))  # breathing


# --------------------------------------------------------------------------- activities
# Each takes (channels, t, rng) and returns (pitch_deg (N,), yaw_rate_deg_s (N,), speed_m_s (N,),
# lift_m (N,)); standing() or seated() is applied before by `generate_motion`.
Root = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _root(n: int, pitch=0.0, yaw_rate=0.0, speed=0.0, lift=0.0) -> Root:
    pitch, yaw_rate, speed, lift = (
        np.broadcast_to(np.asarray(v, float), (n,)).copy() for v in (pitch, yaw_rate, speed, lift)
    )
    return pitch, yaw_rate, speed, lift


def _gait(c: Channels, t: np.ndarray, rng: np.random.Generator, amp: float) -> None:
    f = rng.uniform(0.8, 1.0)  # stride frequency (steps at 2f Hz)
    phase = 2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)
    for k, s in enumerate(("left", "right")):
        ph = phase + k * np.pi
        c.side(s, "hip", x=-amp * 25 * np.sin(ph) - 5)
        c.side(s, "knee", x=amp * (8 + 55 * np.clip(np.sin(ph + 0.9), 0, None) ** 1.5))
        c.side(s, "ankle", x=amp * 10 * np.sin(ph - 0.5))
        c.side(s, "shoulder", y=amp * 22 * np.sin(ph))
        c.side(s, "elbow", y=-amp * 12 * (1 + np.sin(ph)))
    c.add("spine2", y=amp * 5 * np.sin(phase))


def walk(c, t, rng) -> Root:
    _gait(c, t, rng, rng.uniform(0.8, 1.2))
    turn = rng.choice([0.0, rng.uniform(-60, 60)])
    return _root(len(t), pitch=rng.uniform(0, 5), yaw_rate=turn, speed=rng.uniform(0.6, 1.3))


def walk_in_place(c, t, rng) -> Root:
    _gait(c, t, rng, rng.uniform(0.5, 1.0))
    return _root(len(t), yaw_rate=rng.choice([0.0, rng.uniform(-90, 90)]))


def _sides(rng: np.random.Generator) -> tuple[str, ...]:
    return (("left",), ("right",), ("left", "right"))[int(rng.integers(3))]


def wave(c, t, rng) -> Root:
    sides = _sides(rng)
    up = pulse(t, rng.uniform(0.0, 0.4), 10.0, rng.uniform(0.4, 0.7))
    for s in sides:
        c.side(s, "shoulder", x=-85 * up, z=up * (rng.uniform(65, 95)), y=-15 * up)
        osc = 25 * np.sin(2 * np.pi * rng.uniform(1.5, 3.0) * t)
        c.side(s, "elbow", y=up * (-80 + osc))
    return _root(len(t))


def reach(c, t, rng) -> Root:
    for s in _sides(rng):
        # forward flexion, raise above the relaxed stance, elbow: between rest and a far reach
        arm = keyframes(t, rng, [-100, 30, -60], [-20, 110, 5], dt=(0.6, 1.5))
        c.side(s, "shoulder", y=arm[:, 0], z=arm[:, 1])
        c.side(s, "elbow", y=arm[:, 2])
    lean = keyframes(t, rng, [0, -15], [20, 15])
    c.add("spine2", x=lean[:, 0], y=lean[:, 1])
    return _root(len(t))


def arm_raise(c, t, rng) -> Root:
    period = rng.uniform(1.8, 3.0)
    u = 0.5 - 0.5 * np.cos(2 * np.pi * t / period)
    if rng.random() < 0.5:  # lateral, to overhead
        c.both("shoulder", z=u * rng.uniform(130, 160))
        c.both("collar", z=u * 20)
    else:  # frontal, to horizontal or a little above
        c.both("shoulder", y=-u * rng.uniform(80, 110), z=u * 60)
    return _root(len(t))


def squat(c, t, rng) -> Root:
    period = rng.uniform(2.0, 3.5)
    u = 0.5 - 0.5 * np.cos(2 * np.pi * t / period)
    depth = rng.uniform(0.5, 1.0)
    pitch = 25 * depth * u
    c.both("hip", x=-(100 * depth * u) - pitch)
    c.both("knee", x=125 * depth * u)
    c.both("shoulder", y=-u * rng.uniform(0, 80), z=u * 40)
    flat_feet(c, pitch)
    return _root(len(t), pitch=pitch)


def lunge(c, t, rng) -> Root:
    u = pulse(t, rng.uniform(0.1, 0.5), rng.uniform(0.4, 1.2), rng.uniform(0.6, 0.9))
    front, back = ("left", "right") if rng.random() < 0.5 else ("right", "left")
    c.side(front, "hip", x=-85 * u)
    c.side(front, "knee", x=90 * u)
    c.side(front, "ankle", x=-5 * u)
    c.side(back, "hip", x=20 * u)
    c.side(back, "knee", x=85 * u)
    c.side(back, "ankle", x=35 * u)
    return _root(len(t))


def jump(c, t, rng) -> Root:
    start = rng.uniform(0.2, 0.6)
    v = rng.uniform(1.8, 2.6)  # take-off speed, m/s
    t_off, flight = start + 0.8, 2 * v / 9.81
    crouch = pulse(t, start, 0.1, 0.35) + 0.6 * pulse(t, t_off + flight - 0.05, 0.05, 0.3)
    air = pulse(t, t_off - 0.1, flight - 0.1, 0.2)  # arms up and legs tucked, smoothly
    ft = t - t_off
    lift = np.clip(v * ft - 4.905 * ft**2, 0, None)
    pitch = 20 * crouch
    c.both("hip", x=-80 * crouch - pitch - 10 * air)
    c.both("knee", x=100 * crouch + 20 * air)
    c.both("shoulder", y=45 * crouch - 100 * air)
    flat_feet(c, pitch)
    c.both("ankle", x=40 * air)
    return _root(len(t), pitch=pitch, lift=lift)


def jumping_jacks(c, t, rng) -> Root:
    period = rng.uniform(0.8, 1.2)
    u = 0.5 - 0.5 * np.cos(2 * np.pi * t / period)
    c.both("shoulder", z=u * rng.uniform(125, 150))
    c.both("collar", z=u * 15)
    c.both("hip", z=u * rng.uniform(10, 20))
    c.both("knee", x=10 * (1 - u))
    hop = rng.uniform(0.03, 0.08) * np.abs(np.sin(2 * np.pi * t / period))
    return _root(len(t), lift=hop)


def boxing(c, t, rng) -> Root:
    c.both("shoulder", y=-45, z=10)  # guard: fists near the chin (on top of the stance)
    c.both("elbow", y=-120)
    c.both("hip", x=-15)
    c.both("knee", x=20)
    for s in ("left", "right"):
        punch = np.zeros_like(t)
        tp = rng.uniform(0.0, 0.8)
        while tp < t[-1]:
            punch = np.maximum(punch, pulse(t, tp, 0.05, rng.uniform(0.12, 0.2)))
            tp += rng.uniform(0.5, 1.5)
        c.side(s, "shoulder", y=-40 * punch, z=40 * punch)
        c.side(s, "elbow", y=115 * punch)
        c.add("spine2", y=(15 if s == "left" else -15) * punch)
    bounce = 3 * np.sin(2 * np.pi * rng.uniform(1.5, 2.5) * t)
    c.both("knee", x=bounce + 3)
    return _root(len(t), pitch=5.0, yaw_rate=rng.uniform(-20, 20))


def bend(c, t, rng) -> Root:
    u = pulse(t, rng.uniform(0.1, 0.4), rng.uniform(0.3, 1.0), rng.uniform(0.8, 1.2))
    pitch = u * rng.uniform(30, 70)
    c.both("hip", x=-pitch)
    for j in ("spine1", "spine2", "spine3"):
        c.add(j, x=u * rng.uniform(8, 20))
    c.both("shoulder", y=-u * 60)
    return _root(len(t), pitch=pitch)


def sit_stand(c, t, rng) -> Root:
    start = rng.uniform(0.2, 1.0)
    u = pulse(t, start, rng.uniform(0.3, 1.2), rng.uniform(1.0, 1.6))
    if rng.random() < 0.5:
        u = 1.0 - u  # start seated, stand up, sit again
    pitch = 30 * np.sin(np.pi * u) + u * rng.uniform(-5, 5)  # lean forward mid-transition
    c.both("hip", x=-90 * u - pitch)
    c.both("knee", x=95 * u)
    flat_feet(c, pitch)
    c.both("shoulder", y=-25 * np.sin(np.pi * u))
    return _root(len(t), pitch=pitch)


def _desk_arms(c: Channels, t: np.ndarray, rng: np.random.Generator) -> None:
    c.both("shoulder", y=rng.uniform(-45, -25), z=rng.uniform(-5, 10))  # over the stance
    c.both("elbow", y=rng.uniform(-90, -60))


def desk_typing(c, t, rng) -> Root:
    _desk_arms(c, t, rng)
    for s in ("left", "right"):
        c.side(s, "wrist", z=6 * smooth_noise(rng, len(t), 1, 3)[:, 0])
        c.side(s, "shoulder", y=3 * smooth_noise(rng, len(t), 1, 6)[:, 0])
    c.add("neck", x=rng.uniform(5, 20))
    return _root(len(t))


def desk_gesture(c, t, rng) -> Root:
    for s in ("left", "right"):
        arm = keyframes(t, rng, [-70, -20, -120], [-10, 40, -30], dt=(0.4, 1.2))
        c.side(s, "shoulder", y=arm[:, 0], z=arm[:, 1])
        c.side(s, "elbow", y=arm[:, 2])
        c.side(s, "wrist", z=keyframes(t, rng, [-40], [40])[:, 0])
    c.add("neck", y=keyframes(t, rng, [-25], [25])[:, 0])
    return _root(len(t))


def desk_lean(c, t, rng) -> Root:
    _desk_arms(c, t, rng)
    lean = keyframes(t, rng, [-15, -12, -20], [25, 12, 20], dt=(0.8, 2.0))
    for j in ("spine1", "spine2", "spine3"):
        c.add(j, x=lean[:, 0] / 3, z=lean[:, 1] / 3, y=lean[:, 2] / 3)
    return _root(len(t))


def random_motion(c, t, rng) -> Root:
    """Smooth random targets within a fraction of every joint's range."""
    frac = rng.uniform(0.3, 0.7)
    for j, name in enumerate(SMPL_JOINT_NAMES[1:], start=1):
        if rng.random() < 0.3 and not name.endswith(("shoulder", "elbow")):
            continue  # leave some joints alone: real motion is not all joints at once
        lim = LIMITS[j]
        mid = lim.mean(axis=1)
        half = (lim[:, 1] - lim[:, 0]) / 2 * frac
        c.add(name, *keyframes(t, rng, mid - half - c.deg[0, j], mid + half - c.deg[0, j]).T)
    return _root(len(t), yaw_rate=rng.choice([0.0, rng.uniform(-40, 40)]))


def random_seated(c, t, rng) -> Root:
    seated_deg = c.deg.copy()  # `seated` has bent the hips and knees
    root = random_motion(c, t, rng)
    for s in ("left", "right"):  # the legs stay near the seated pose: 0.3 of the random move
        for j in (SMPL_JOINT_NAMES.index(f"{s}_hip"), SMPL_JOINT_NAMES.index(f"{s}_knee")):
            c.deg[:, j] = seated_deg[:, j] + 0.3 * (c.deg[:, j] - seated_deg[:, j])
    return root


ACTIVITY_FNS: dict[str, Callable[..., Root]] = {
    "walk": walk, "walk_in_place": walk_in_place, "wave": wave, "reach": reach,
    "arm_raise": arm_raise, "squat": squat, "lunge": lunge, "jump": jump,
    "jumping_jacks": jumping_jacks, "boxing": boxing, "bend": bend, "sit_stand": sit_stand,
    "desk_typing": desk_typing, "desk_gesture": desk_gesture, "desk_lean": desk_lean,
    "random": random_motion, "random_seated": random_seated,
}  # fmt: skip


def sample_shape(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Betas within the population (|b| <= 2.5 sd) and a body scale; ~15 % children (0.6-0.85)."""
    betas = np.clip(rng.standard_normal(10), -2.5, 2.5)
    scale = rng.uniform(0.6, 0.85) if rng.random() < 0.15 else rng.uniform(0.93, 1.07)
    return betas.astype(np.float32), float(scale)


def generate_motion(
    activity: str, n_frames: int, rng: np.random.Generator, yaw0_deg: float = 0.0
) -> Motion:
    """One clip of `activity` (see ACTIVITIES); yaw0 is the initial facing (0 = toward +Z)."""
    if activity not in ACTIVITY_FNS:
        raise ValueError(f"unknown activity {activity!r}; choose from {ACTIVITIES}")
    t = np.arange(n_frames) / FPS
    c = Channels(n_frames)
    base_pitch = seated(c, rng) if activity in SEATED else np.zeros(n_frames)
    standing(c, rng)  # arms down; activities add their motion on top
    pitch, yaw_rate, speed, lift = ACTIVITY_FNS[activity](c, t, rng)
    life(c, t, rng, amount=rng.uniform(0.5, 1.5))
    euler = np.clip(c.deg, LIMITS[None, :, :, 0], LIMITS[None, :, :, 1])  # (N, 24, 3)
    pitch = pitch + base_pitch
    yaw = yaw0_deg + np.cumsum(yaw_rate) / FPS
    roll = 2.0 * smooth_noise(rng, n_frames, 1, 15)[:, 0]
    root = Rotation.from_euler("YXZ", np.stack([yaw, pitch, roll], 1), degrees=True)
    body = Rotation.from_euler("XYZ", euler[:, 1:].reshape(-1, 3), degrees=True)
    heading = np.radians(yaw)
    step = speed / FPS
    transl = np.zeros((n_frames, 3))
    transl[:, 0] = np.cumsum(step * np.sin(heading))
    transl[:, 2] = np.cumsum(step * np.cos(heading))
    betas, scale = sample_shape(rng)
    return Motion(
        activity=activity,
        betas=betas,
        scale=scale,
        global_orient=root.as_rotvec().astype(np.float32),
        body_pose=body.as_rotvec().reshape(n_frames, 69).astype(np.float32),
        transl=transl.astype(np.float32),
        lift=lift.astype(np.float32),
        euler_deg=euler.astype(np.float32),
    )
