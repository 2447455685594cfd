"""People lying or upside down: the network is shown them upright and its body is turned back."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from stdformer.detect.facing import body_angle_deg, quarter_rotation
from stdformer.inference.roll import RollGuard, turn_observation, upright_in_image
from stdformer.types import Observation

CLIP = Path(__file__).parents[1] / "data" / "heldout_clip_arm_raise.npz"
SEATED = Path(__file__).parents[1] / "data" / "seated_clip_desk_gesture.npz"


def _person(torso_deg: float, hips_sure: bool = True, legs_deg: float | None = None) -> Observation:
    """A stick person whose torso (hips -> shoulders) points `torso_deg` clockwise from up;
    with `legs_deg`, legs in view pointing that way (ankles -> hips), else legs out of sight."""
    a = np.radians(torso_deg)
    up, right = np.array([np.sin(a), -np.cos(a)]), np.array([np.cos(a), np.sin(a)])
    hips = np.array([320.0, 240.0])
    uv = np.tile(hips, (33, 1))
    uv[[11, 12]] = hips + 100 * up + np.outer([1, -1], 20 * right)
    uv[[23, 24]] = hips + np.outer([1, -1], 15 * right)
    uv[[0, 2, 5, 7, 8]] = hips + 150 * up + np.outer([0, 1, -1, 2, -2], 5 * right)  # face
    conf = np.full(33, 0.9, np.float32)
    conf[25:] = 0.1
    if legs_deg is not None:
        b = np.radians(legs_deg)
        uv[[27, 28]] = hips - 120 * np.array([np.sin(b), -np.cos(b)])
        conf[[27, 28]] = 0.9
    if not hips_sure:
        conf[[23, 24]] = 0.2
    world = np.zeros((33, 3), np.float32)
    world[[11, 12]] = [[0.2, -0.5, 0.0], [-0.2, -0.5, 0.0]]
    return Observation(
        landmarks_px=np.concatenate([uv, np.zeros((33, 1))], 1).astype(np.float32),
        visibility=conf, presence=conf.copy(), world_landmarks=world,
        bbox_xyxy=np.array([200, 100, 440, 380], np.float32),
        crop_xyxy=np.array([180, 80, 460, 400], np.float32),
        image_size_wh=(640, 480), t_ns=0, index=0,
    )  # fmt: skip


@pytest.mark.parametrize("deg", [0.0, 30.0, 90.0, -90.0, 180.0])
def test_torso_angle_reads_the_image_direction_of_the_torso(deg):
    got = body_angle_deg(_person(deg))
    assert got is not None and abs((got - deg + 180) % 360 - 180) < 1e-6


@pytest.mark.parametrize("deg", [0.0, 25.0, 90.0, -90.0, 180.0])
def test_without_sure_hips_the_shoulder_line_and_face_give_the_direction(deg):
    """Head and shoulders (a desk): up is the shoulder line's normal on the face's side."""
    got = body_angle_deg(_person(deg, hips_sure=False))
    assert got is not None and abs((got - deg + 180) % 360 - 180) < 1e-4  # float32 pixels


def test_no_direction_without_shoulders_and_face():
    obs = _person(90.0, hips_sure=False)
    obs.visibility[[0, 2, 5, 7, 8]] = 0.1
    assert body_angle_deg(obs) is None


class _Seen:
    """Feeds a guard a pose held for some time at 30 fps (media time)."""

    def __init__(self, guard: RollGuard) -> None:
        self.guard, self.t_s = guard, 0.0

    def __call__(self, deg: float, legs: float | None = None, frames: int = 10) -> int:
        for _ in range(frames):
            obs = dataclasses.replace(_person(deg, legs_deg=legs), t_ns=round(self.t_s * 1e9))
            self.guard.update(obs)
            self.t_s += 1 / 30
        return self.guard.quarter


def test_the_guard_turns_for_lying_and_upside_down_people_only():
    see = _Seen(RollGuard())
    path = [(0, 0), (40, 0), (55, 0), (80, 1), (40, 1), (100, 1), (20, 0), (-75, 3), (175, 2)]
    for deg, quarter in path:
        assert see(deg) == quarter, deg  # a lean or a bow never turns the view
    obs = _person(90.0, hips_sure=False)
    obs.visibility[[0, 2, 5, 7, 8, 11]] = 0.1
    assert not see.guard.update(obs)  # no sure direction: kept
    assert see.guard.quarter == 2
    see.guard.reset()
    assert see.guard.quarter == 0


def test_a_misread_frame_does_not_turn_the_view_a_new_track_turns_at_once():
    see = _Seen(RollGuard())
    see(0.0)
    assert see(80.0, frames=1) == 0 and see(0.0, frames=1) == 0  # one frame misread: kept
    assert see(80.0, frames=6) == 0  # 0.17 s: not yet
    assert see(80.0, frames=1) == 1  # 0.2 s lying: turned
    see.guard.reset()
    assert see(180.0, frames=1) == 2  # a track that starts upside down: from its first frame


def test_the_legs_in_view_tell_a_bow_from_lying():
    assert abs(body_angle_deg(_person(90.0, legs_deg=0.0))) < 60  # bowing on upright legs
    assert abs(body_angle_deg(_person(90.0, legs_deg=90.0)) - 90.0) < 1e-6  # lying
    see = _Seen(RollGuard())
    assert see(90.0, legs=0.0) == 0
    assert see(90.0, legs=90.0) == 1


def test_turning_an_observation_is_a_camera_roll():
    obs = _person(90.0)
    turned = turn_observation(obs, -1)  # counter-clockwise: the person upright
    assert abs(body_angle_deg(turned)) < 1e-6
    r = quarter_rotation(-1)
    # pixels turn about the image centre exactly as camera points turn about the optical axis
    centre = np.array([320.0, 240.0])
    expect = (obs.landmarks_px[:, :2] - centre) @ r[:2, :2].T + centre
    np.testing.assert_allclose(turned.landmarks_px[:, :2], expect, atol=1e-4)
    np.testing.assert_allclose(turned.world_landmarks, obs.world_landmarks @ r.T, atol=1e-6)
    back = turn_observation(turned, 1)
    np.testing.assert_allclose(back.landmarks_px, obs.landmarks_px, atol=1e-4)
    np.testing.assert_allclose(back.bbox_xyxy, obs.bbox_xyxy, atol=1e-4)
    assert turn_observation(obs, 4) is obs


@pytest.fixture(scope="module")
def network():
    from stdformer.body.body_model import load_body_model
    from stdformer.body.mesh_levels import mesh_levels_for_body
    from stdformer.model.checkpoint import load_model
    from stdformer.session.pipeline import choose_weights

    body = load_body_model()
    return body, load_model(mesh_levels_for_body(body), choose_weights(None))


def _run(network, observations):
    from stdformer.inference.predictor import Predictor, PredictorConfig

    body, model = network
    jreg = np.asarray(body.J_regressor, np.float32)
    pred = Predictor(model, PredictorConfig(device="cpu", trace="off"), joint_regressor=jreg)
    out = [pred.push(o) for o in observations]
    return np.stack([m.joints_cam for m in out]), np.stack([m.vertices_cam[::50] for m in out])


@pytest.mark.parametrize("quarter", [1, 2, 3])
def test_the_shipped_network_reads_a_turned_camera_as_an_upright_one(network, quarter):
    """A held-out clip's MediaPipe observations as a camera rolled by quarter turns sees them
    (a person lying on either side, or upside down): the body comes out as the upright run's,
    turned with the camera. Before, the network read them as upright people: 100-360 mm off."""
    from stdformer.data.corpus import load_clip
    from stdformer.eval.evaluate import observations

    obs = [o for o in observations(load_clip(CLIP)) if o is not None][:40]
    joints, verts = _run(network, obs)
    turned = [dataclasses.replace(turn_observation(o, quarter), index=o.index) for o in obs]
    joints_t, verts_t = _run(network, turned)
    r = quarter_rotation(quarter)
    np.testing.assert_allclose(joints_t, joints @ r.T, atol=2e-3)  # metres
    np.testing.assert_allclose(verts_t, verts @ r.T, atol=2e-3)


def _image_turn(obs: Observation, quarter: int) -> Observation:
    """`obs` as the camera turned by `quarter` sees it, in that image's pixels and size."""
    turned = turn_observation(obs, quarter)
    if quarter % 2 == 0:
        return turned
    w, h = obs.image_size_wh
    shift = np.array([h - w, w - h], np.float32) / 2.0
    landmarks = turned.landmarks_px.copy()
    landmarks[:, :2] += shift
    return dataclasses.replace(
        turned, landmarks_px=landmarks, image_size_wh=(h, w),
        bbox_xyxy=turned.bbox_xyxy + np.tile(shift, 2),
        crop_xyxy=turned.crop_xyxy + np.tile(shift, 2),
    )  # fmt: skip


def test_upright_in_image_undoes_a_camera_on_its_side():
    obs = _person(0.0)
    for quarter in (1, 2, 3):
        back = upright_in_image(_image_turn(obs, quarter))
        assert back.image_size_wh == obs.image_size_wh
        np.testing.assert_allclose(back.landmarks_px, obs.landmarks_px, atol=1e-3)
        np.testing.assert_allclose(back.bbox_xyxy, obs.bbox_xyxy, atol=1e-3)
    assert upright_in_image(obs) is obs


@pytest.fixture(scope="module")
def seated(network):
    """The seated desk render's first 24 frames and the refined bodies of the upright run."""
    from stdformer.data.corpus import load_clip
    from stdformer.eval.evaluate import observations, run_network

    body, model = network
    obs = observations(load_clip(SEATED))[:24]
    return obs, run_network(model, body, obs, 0, False, "refined")


@pytest.mark.parametrize("quarter", [1, 2, 3])
def test_a_desk_seen_by_a_camera_on_its_side_gets_the_upright_body(network, seated, quarter):
    """The seated desk render (head and shoulders, hips at the bottom edge) seen by a camera
    turned by quarter turns: the refined body (legs seated under the desk) is the upright run's,
    turned. Before, 300-600 mm off: the network read a person on their side, and the hips
    at the side edge did not count as under a desk."""
    from stdformer.eval.evaluate import run_network

    body, model = network
    obs, upright = seated
    turned = run_network(model, body, [_image_turn(o, quarter) for o in obs], 0, False, "refined")
    expect = upright.joints @ quarter_rotation(quarter).T  # pelvis-centred, camera axes
    err = np.linalg.norm(turned.joints - expect, axis=-1).mean()
    assert err < 0.01  # metres
