"""The committed pose model: format, metadata and reproducibility of tools/build_pose_task.py."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import struct
import zipfile
from pathlib import Path

import pytest

from stdformer.detect.localize import LocalizerConfig, PersonLocalizer
from stdformer.paths import ASSETS_DIR, REPO_ROOT, BadFileError

TASK = ASSETS_DIR / "pose_landmarker_full.task"
TASK_SHA256 = "ee251572cb67d94e74edcc7b91e2ca7cac243b742845beaf946d4dbf9cb08fd3"
NORM = {"pose_detector.tflite": (127.5, 127.5), "pose_landmarks_detector.tflite": (0.0, 255.0)}


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location(
        "build_pose_task", REPO_ROOT / "tools" / "build_pose_task.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_task_is_the_reproducible_build() -> None:
    assert hashlib.sha256(TASK.read_bytes()).hexdigest() == TASK_SHA256
    notice = (ASSETS_DIR / "LICENSE-mediapipe-models.txt").read_text()
    assert "Apache License" in notice and "pose_landmark_full.tflite" in notice


def test_task_layout_stored_aligned_fixed_dates() -> None:
    raw = TASK.read_bytes()
    with zipfile.ZipFile(TASK) as task:
        infos = task.infolist()
    assert [i.filename for i in infos] == list(NORM)
    for info in infos:
        assert info.compress_type == zipfile.ZIP_STORED and info.date_time == (1980, 1, 1, 0, 0, 0)
        name_len, extra_len = struct.unpack(
            "<HH", raw[info.header_offset + 26 : info.header_offset + 30]
        )
        data_offset = info.header_offset + 30 + name_len + extra_len
        assert data_offset % 64 == 0  # models are mapped in place without a copy


def test_models_carry_normalisation_metadata(tool) -> None:
    tool._install_metadata_version_standin()
    from mediapipe.tasks.python.metadata import metadata

    with zipfile.ZipFile(TASK) as task:
        for name, (mean, std) in NORM.items():
            model = task.read(name)
            md = json.loads(metadata.MetadataDisplayer.with_model_buffer(model).get_metadata_json())
            unit = md["subgraph_metadata"][0]["input_tensor_metadata"][0]["process_units"][0]
            assert unit["options"] == {"mean": [mean], "std": [std]}, name
            # The metadata step is deterministic: writing it again gives the same bytes.
            assert tool.add_metadata(model, Path(name).stem, mean, std) == model


@pytest.mark.skipif(
    not os.environ.get("STDFORMER_MEDIAPIPE_WHEEL"),
    reason="set STDFORMER_MEDIAPIPE_WHEEL to a mediapipe-0.10.21 wheel to rebuild the .task",
)
def test_rebuild_from_wheel_is_byte_identical(tool, tmp_path: Path) -> None:
    wheel = Path(os.environ["STDFORMER_MEDIAPIPE_WHEEL"])
    blob = tool.build_task(wheel)
    assert hashlib.sha256(blob).hexdigest() == TASK_SHA256
    # Without the metadata step MediaPipe cannot use the models: a clear BadFileError.
    raw = tmp_path / "raw.task"
    with zipfile.ZipFile(wheel) as whl, zipfile.ZipFile(raw, "w") as task:
        for member, arcname, *_ in tool.MODELS:
            task.writestr(arcname, whl.read(member))
    with pytest.raises(BadFileError, match="NormalizationOptions"):
        PersonLocalizer(LocalizerConfig(pose_model=str(raw)))
