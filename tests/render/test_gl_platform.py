"""GL platform choice: first working candidate wins; none working gives an actionable error.
The live views' rasterizer setting (`rasterize_inline`)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from stdformer.render import gl_platform
from stdformer.render.gl_platform import RenderError, choose_gl_platform


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """No GL choice cached by an earlier run of the app on this machine; the process's own
    choice (PYOPENGL_PLATFORM, which `gl_platform` sets) is back as it was afterwards, so the
    GUI tests that follow draw with the real platform."""
    monkeypatch.setenv("STDFORMER_CACHE_DIR", str(tmp_path / "cache"))
    before = os.environ.get("PYOPENGL_PLATFORM")
    yield
    if before is None:
        os.environ.pop("PYOPENGL_PLATFORM", None)
    else:
        os.environ["PYOPENGL_PLATFORM"] = before


def test_no_working_platform_raises_actionable_render_error() -> None:
    def probe(name: str) -> tuple[bool, str]:
        return False, f"cannot load {name} library"

    with pytest.raises(RenderError) as info:
        choose_gl_platform(("egl", "osmesa"), probe)
    msg = str(info.value)
    for needle in ("cannot load egl library", "cannot load osmesa library", "libegl1", "libgl1"):
        assert needle in msg
    assert "libosmesa6" in msg and "PYOPENGL_PLATFORM" in msg and "PyOpenGL==3.1.10" in msg


def test_first_working_platform_in_order_is_chosen() -> None:
    tried: list[str] = []

    def probe(name: str) -> tuple[bool, str]:
        tried.append(name)
        return name == "osmesa", "no display"

    assert choose_gl_platform(("egl", "osmesa"), probe) == "osmesa"
    assert tried == ["egl", "osmesa"]


def test_import_pyrender_raises_when_nothing_works(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend this process has not chosen a platform nor imported pyrender yet.
    monkeypatch.setattr(gl_platform, "_chosen_platform", None)
    monkeypatch.setattr(gl_platform, "_pyrender", None)
    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    monkeypatch.setattr(gl_platform, "probe_gl_platform", lambda name: (False, "simulated failure"))
    with pytest.raises(RenderError, match="No working OpenGL platform"):
        gl_platform.import_pyrender()
    assert "PYOPENGL_PLATFORM" not in __import__("os").environ  # nothing half-chosen


def test_explicit_platform_env_var_skips_probing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gl_platform, "_chosen_platform", None)
    monkeypatch.setenv("PYOPENGL_PLATFORM", "osmesa")

    def probe(name: str) -> tuple[bool, str]:
        raise AssertionError("must not probe when PYOPENGL_PLATFORM is set")

    monkeypatch.setattr(gl_platform, "probe_gl_platform", probe)
    assert gl_platform.gl_platform() == "osmesa"


def test_probe_reports_a_broken_platform() -> None:
    works, detail = gl_platform.probe_gl_platform("no_such_platform", timeout_s=60)
    assert not works and detail


def test_prefetched_choice_is_used_without_probing_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """main.py starts the probe at launch; the display's later call finds the choice made."""
    monkeypatch.setattr(gl_platform, "_chosen_platform", None)
    monkeypatch.setattr(gl_platform, "_pyrender", object())  # imported: not again, not here
    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    tried: list[str] = []

    def probe(name: str) -> tuple[bool, str]:
        tried.append(name)
        return name == "osmesa", "simulated"

    monkeypatch.setattr(gl_platform, "probe_gl_platform", probe)
    gl_platform.prefetch_gl_platform().join(timeout=10)
    assert tried == ["egl", "osmesa"]
    assert gl_platform.gl_platform() == "osmesa" and tried == ["egl", "osmesa"]


def test_failed_prefetch_leaves_the_error_to_the_renderer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gl_platform, "_chosen_platform", None)
    monkeypatch.setattr(gl_platform, "_pyrender", None)
    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    monkeypatch.setattr(gl_platform, "probe_gl_platform", lambda name: (False, "no driver"))
    gl_platform.prefetch_gl_platform().join(timeout=10)  # quiet: nothing raised in the thread
    with pytest.raises(RenderError, match="no driver"):
        gl_platform.import_pyrender()


def test_a_probed_choice_is_cached_for_the_next_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    tried: list[str] = []

    def probe(name: str) -> tuple[bool, str]:
        tried.append(name)
        return True, "ok"

    monkeypatch.setattr(gl_platform, "probe_gl_platform", probe)
    monkeypatch.setattr(gl_platform, "_chosen_platform", None)
    assert gl_platform.gl_platform() == "egl" and tried == ["egl"]
    monkeypatch.setattr(gl_platform, "_chosen_platform", None)  # a new process
    monkeypatch.delenv("PYOPENGL_PLATFORM")
    assert gl_platform.gl_platform() == "egl" and tried == ["egl"]  # not probed again
    # Another Python or other PyOpenGL/pyrender versions: probed again.
    monkeypatch.setattr(gl_platform, "_chosen_platform", None)
    monkeypatch.delenv("PYOPENGL_PLATFORM")
    monkeypatch.setattr(gl_platform, "_cache_key", lambda: "another python")
    assert gl_platform.gl_platform() == "egl" and tried == ["egl", "egl"]


def test_a_cached_choice_that_fails_is_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    monkeypatch.setattr(gl_platform, "probe_gl_platform", lambda name: (True, "ok"))
    monkeypatch.setattr(gl_platform, "_chosen_platform", None)
    gl_platform.gl_platform()
    assert gl_platform._cached_platform(("egl",)) == "egl"
    gl_platform.forget_gl_platform()  # what the display does when the 3D view cannot start
    assert gl_platform._cached_platform(("egl",)) is None


def test_live_views_rasterize_inline_unless_the_user_chose() -> None:
    env: dict[str, str] = {}
    assert gl_platform.rasterize_inline(env) and env["LP_NUM_THREADS"] == "0"
    env = {"LP_NUM_THREADS": " "}
    assert gl_platform.rasterize_inline(env) and env["LP_NUM_THREADS"] == "0"
    env = {"LP_NUM_THREADS": "4"}
    assert not gl_platform.rasterize_inline(env) and env["LP_NUM_THREADS"] == "4"


_DRAW = """
import sys
import numpy as np
from stdformer.body.body_model import load_body_model
from stdformer.render.renderer import OffscreenRenderer
body = load_body_model()
v = np.asarray(body.v_template, np.float32) * [1, -1, -1] + [0, 0.2, 2.5]  # OpenCV camera axes
K = np.array([[300.0, 0, 160], [0, 300.0, 120], [0, 0, 1]])
r = OffscreenRenderer(320, 240)
np.save(sys.argv[1], r.render_overlay_rgba(v, np.asarray(body.faces), K, (320, 240)))
r.close()
"""


def test_rasterizer_threads_draw_the_same_overlay(tmp_path) -> None:
    """The app draws with LP_NUM_THREADS=0 (`rasterize_inline`): the same pixels as
    llvmpipe's threaded rasterizer (each setting in its own process, as Mesa reads it once)."""
    import subprocess
    import sys

    from stdformer.paths import REPO_ROOT

    def draw(value: str) -> np.ndarray:
        out = tmp_path / f"overlay_{value}.npy"
        env = dict(os.environ, LP_NUM_THREADS=value, PYTHONPATH=str(REPO_ROOT))
        subprocess.run([sys.executable, "-c", _DRAW, str(out)], env=env, check=True, timeout=120)
        return np.load(out)

    inline, threaded = draw("0"), draw("2")
    assert (inline[..., 3] > 0).mean() > 0.05  # the body covers part of the frame
    np.testing.assert_array_equal(inline, threaded)
