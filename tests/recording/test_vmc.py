"""VMC stream end to end: a local OSC receiver (python-osc's decoder) gets every frame's bones
with valid Unity names; a T-pose arrives as identity rotations, a raised arm as the expected
rotation; an unreachable host is one status message and never an exception."""

from __future__ import annotations

import logging
import socket

import numpy as np
import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket
from scipy.spatial.transform import Rotation

from stdformer.recording.vmc import UNITY_BONES, VmcSender, parse_target
from stdformer.types import BodyParams, MeshResult
from tests.recording.body_take import FACING_CAMERA, body_params, default_body
from tests.recording.synthetic import K_640
from tests.recording.test_recorder import _observation, _result

# Unity's HumanBodyBones names (docs.unity3d.com/ScriptReference/HumanBodyBones.html), body part
UNITY_HUMANOID = {
    "Hips", "LeftUpperLeg", "RightUpperLeg", "LeftLowerLeg", "RightLowerLeg", "LeftFoot",
    "RightFoot", "Spine", "Chest", "UpperChest", "Neck", "Head", "LeftShoulder",
    "RightShoulder", "LeftUpperArm", "RightUpperArm", "LeftLowerArm", "RightLowerArm",
    "LeftHand", "RightHand", "LeftToes", "RightToes", "LeftEye", "RightEye", "Jaw",
}  # fmt: skip


def _pose(**rotvecs: tuple[float, float, float]) -> BodyParams:
    from stdformer.body.smpl_file import SMPL_JOINT_NAMES

    pose = np.zeros(69, np.float32)
    for name, rv in rotvecs.items():
        j = SMPL_JOINT_NAMES.index(name) - 1
        pose[3 * j : 3 * j + 3] = rv
    return BodyParams(np.zeros(10, np.float32), FACING_CAMERA.copy(), pose,
                      np.array([0.1, 0.2, 3.0], np.float32))  # fmt: skip


def _session_result(i: int, body: BodyParams | None):
    obs = _observation(i)
    z = np.zeros((1, 3), np.float32)
    mesh = MeshResult(z, z, K_640, obs.bbox_xyxy, obs.t_ns, i, obs, body=body)
    return _result(i, obs, (mesh,))


@pytest.fixture
def receiver():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


def _receive(sock: socket.socket, n: int) -> list[dict]:
    """n bundles -> [{address: [params, ...]}] in arrival order."""
    frames = []
    for _ in range(n):
        packet = OscPacket(sock.recv(65536))
        frame: dict = {}
        for timed in packet.messages:
            frame.setdefault(timed.message.address, []).append(timed.message.params)
        frames.append(frame)
    return frames


def _bones(frame: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {p[0]: (np.array(p[1:4]), np.array(p[4:8])) for p in frame["/VMC/Ext/Bone/Pos"]}


def _angle_deg(q: np.ndarray) -> float:
    return float(np.degrees(Rotation.from_quat(q).magnitude()))


def test_every_frame_arrives_with_valid_bones_and_a_t_pose(receiver: socket.socket) -> None:
    sender = VmcSender(*receiver.getsockname(), body_model=default_body())
    poses = [_pose() if i < 5 else body_params(i) for i in range(30)]
    poses[12] = None  # subject lost in this frame: OK with tracking 0, no bones
    for i, body in enumerate(poses):
        sender.on_result(_session_result(i, body))
    frames = _receive(receiver, 30)
    assert sender.status().bundles_sent == 30 and sender.status().error is None
    times = [f["/VMC/Ext/T"][0][0] for f in frames]
    np.testing.assert_allclose(times, np.arange(30) * 0.04, atol=1e-5)  # 25 fps source
    assert frames[12]["/VMC/Ext/OK"] == [[1, 3, 0, 0]] and "/VMC/Ext/Bone/Pos" not in frames[12]
    for i, frame in enumerate(frames):
        if i == 12:
            continue
        assert frame["/VMC/Ext/OK"] == [[1, 3, 0, 1]]
        assert frame["/VMC/Ext/Root/Pos"] == [["root", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]]
        names = [p[0] for p in frame["/VMC/Ext/Bone/Pos"]]
        assert len(names) == len(UNITY_BONES) == 22 and set(names) <= UNITY_HUMANOID
    # T-pose facing the camera: identity everywhere (within 2 degrees), hips at rest height.
    bones = _bones(frames[0])
    assert max(_angle_deg(q) for _, q in bones.values()) < 2.0
    hips = bones["Hips"][0]
    assert abs(hips[0]) < 1e-6 and abs(hips[2]) < 1e-6 and 0.8 < hips[1] < 1.1
    # Unity axes: the left arm's rest offset points to -X (the avatar's left), up is +Y.
    assert bones["LeftUpperArm"][0][0] < -0.05 and bones["Neck"][0][1] > 0.05


def test_raised_arm_and_turn_arrive_as_unity_rotations(receiver: socket.socket) -> None:
    sender = VmcSender(*receiver.getsockname(), body_model=default_body())
    # Left arm raised straight up: SMPL left_shoulder +90 degrees about the body's +Z.
    sender.send(_pose(left_shoulder=(0.0, 0.0, np.pi / 2)), 0.0)
    # The person turns to their left by 30 degrees (about the body's up axis) and steps right.
    turned = Rotation.from_rotvec(FACING_CAMERA) * Rotation.from_rotvec([0, np.radians(30), 0])
    body = _pose()
    sender.send(BodyParams(body.betas, turned.as_rotvec().astype(np.float32), body.body_pose,
                           body.transl + np.array([0.5, 0, 0], np.float32)), 0.04)  # fmt: skip
    raised, turn = (_bones(f) for f in _receive(receiver, 2))
    # Unity applies the quaternion with the usual formula to its own (left-handed) axes:
    # the avatar's left arm rests along -X and must point up (+Y).
    arm = Rotation.from_quat(raised["LeftUpperArm"][1]).apply([-1.0, 0.0, 0.0])
    assert np.degrees(np.arccos(np.clip(arm @ [0, 1, 0], -1, 1))) < 2.0
    assert _angle_deg(raised["RightUpperArm"][1]) < 2.0
    # Facing +Z, turning to one's left in a left-handed Y-up world: forward goes to -X.
    forward = Rotation.from_quat(turn["Hips"][1]).apply([0.0, 0.0, 1.0])
    want = [-np.sin(np.radians(30)), 0.0, np.cos(np.radians(30))]
    assert np.degrees(np.arccos(np.clip(forward @ want, -1, 1))) < 2.0
    # The person moved to the camera's right = their left = the avatar's -X.
    assert turn["Hips"][0][0] == pytest.approx(-0.5, abs=1e-4)


def test_bundles_are_the_bytes_python_osc_builds(receiver: socket.socket) -> None:
    """The per-frame encoder packs numbers into messages python-osc encoded once: each bundle
    must be byte for byte what python-osc's builders make of the same values."""
    sender = VmcSender(*receiver.getsockname())
    body = _pose(left_shoulder=(0.2, -0.4, 0.9), right_knee=(1.1, 0.0, 0.1))
    for seconds, b in ((0.0, body), (1.25, None)):
        sender.send(b, seconds)
        expected = OscBundleBuilder(IMMEDIATELY)
        tracking = int(b is not None)
        expected.add_content(_osc("/VMC/Ext/OK", ("i", 1), ("i", 3), ("i", 0), ("i", tracking)))
        expected.add_content(_osc("/VMC/Ext/T", ("f", seconds)))
        if b is not None:
            for name, pos, quat in sender.bones(b):
                floats = [("f", float(v)) for v in (*pos, *quat)]
                expected.add_content(_osc("/VMC/Ext/Bone/Pos", ("s", name), *floats))
            zeros = [("f", v) for v in (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)]
            expected.add_content(_osc("/VMC/Ext/Root/Pos", ("s", "root"), *zeros))
        assert receiver.recv(65536) == expected.build().dgram
    sender.close()


def _osc(address: str, *args: tuple[str, object]):
    msg = OscMessageBuilder(address)
    for kind, value in args:
        msg.add_arg(value, kind)
    return msg.build()


def test_unreachable_host_is_one_status_message(caplog: pytest.LogCaptureFixture) -> None:
    sender = VmcSender("host.invalid", 39539, body_model=default_body())
    with caplog.at_level(logging.WARNING):
        for i in range(3):
            sender.on_result(_session_result(i, _pose()))  # never raises
    status = sender.status()
    assert status.error is not None and "cannot send to host.invalid:39539" in status.error
    assert status.bundles_sent == 0
    assert sum("cannot send" in r.getMessage() for r in caplog.records) == 1


def test_parse_target() -> None:
    assert parse_target("127.0.0.1:39539") == ("127.0.0.1", 39539)
    assert parse_target("studio.local") == ("studio.local", 39539)
    assert parse_target(":40000") == ("127.0.0.1", 40000)
    with pytest.raises(ValueError, match="port must be a number"):
        parse_target("localhost:abc")
    with pytest.raises(ValueError, match="between 1 and 65535"):
        parse_target("localhost:70000")
