"""Build assets/pose_landmarker_full.task from the Apache-2.0 models of the mediapipe 0.10.21 wheel.

Why: no mediapipe wheel ships a `.task` pose model and nothing may download at run time, but the
0.10.21 wheel bundles the legacy BlazePose models (`pose_detection.tflite`,
`pose_landmark_full.tflite`). The Tasks API needs them with TFLite normalisation metadata, zipped
as `pose_detector.tflite` + `pose_landmarks_detector.tflite`. This script does exactly that,
deterministically: same wheel -> byte-identical `.task` (checked against pinned hashes).

Usage:
    python tools/build_pose_task.py                   # pip-downloads the wheel into a temp dir
    python tools/build_pose_task.py --wheel mediapipe-0.10.21-cp311-...whl
    python tools/build_pose_task.py --out /tmp/x.task --check   # build twice, compare sha256

Needs mediapipe (1.2.2, the runtime dependency) for its metadata writer.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "assets" / "pose_landmarker_full.task"
LICENSE_NAME = "LICENSE-mediapipe-models.txt"  # written next to the .task
WHEEL_REQ = "mediapipe==0.10.21"
# The wheel for any platform carries the same model files; pin one so the input is fixed.
WHEEL_PLATFORM = "manylinux_2_28_x86_64"
WHEEL_PYTHON = "311"

# (member in the wheel, name inside the .task, norm mean, norm std, expected sha256 of the source)
MODELS = (
    (
        "mediapipe/modules/pose_detection/pose_detection.tflite",
        "pose_detector.tflite",
        127.5,
        127.5,  # detector input in [-1, 1]
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    ),
    (
        "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
        "pose_landmarks_detector.tflite",
        0.0,
        255.0,  # landmark model input in [0, 1]
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
    ),
)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamp: rebuilds are byte-identical
ALIGN = 64  # TFLite flatbuffers are read in place; aligned members avoid a copy and a warning


def _install_metadata_version_standin() -> None:
    """Register the compiled module mediapipe 1.2.2's metadata writer imports but does not ship.

    `metadata.py` imports `mediapipe.tasks.cc.metadata.python._pywrap_metadata_version` only to
    stamp the minimum metadata parser version; the features written here (image normalisation,
    plain feature tensors) are all part of metadata schema 1.0.0.
    """
    name = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"
    if name in sys.modules:
        return
    parts = name.split(".")
    for i in range(3, len(parts)):  # mediapipe.tasks.cc, ...cc.metadata, ...metadata.python
        pkg = ".".join(parts[:i])
        if pkg not in sys.modules:
            mod = types.ModuleType(pkg)
            mod.__path__ = []  # mark as package
            sys.modules[pkg] = mod
    standin = types.ModuleType(name)
    standin.GetMinimumMetadataParserVersion = lambda _buf: "1.0.0"
    sys.modules[name] = standin


def add_metadata(model: bytes, name: str, mean: float, std: float) -> bytes:
    """Return `model` with TFLite metadata: one normalised RGB image input, plain outputs."""
    _install_metadata_version_standin()
    from mediapipe.tasks.metadata import schema_py_generated as schema_fb
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    tflite = schema_fb.Model.GetRootAsModel(model, 0)
    n_outputs = tflite.Subgraphs(0).OutputsLength()
    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(name)
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    for _ in range(n_outputs):
        writer.add_feature_output()
    model_with_md, _json = writer.populate()
    del writer  # its __del__ cleans a temp dir; run it now, not at interpreter shutdown
    return bytes(model_with_md)


def _aligned_extra(offset: int, name: str) -> bytes:
    """Extra-field padding so the member's data starts on an ALIGN boundary (like zipalign)."""
    header = 30 + len(name.encode())
    pad = (-(offset + header + 4)) % ALIGN
    return b"\x35\xd9" + pad.to_bytes(2, "little") + b"\0" * pad  # id 0xd935 = alignment padding


def build_task(wheel: Path) -> bytes:
    """Build the .task bytes from a mediapipe 0.10.21 wheel."""
    out = io.BytesIO()
    with zipfile.ZipFile(wheel) as whl, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as task:
        for member, arcname, mean, std, sha in MODELS:
            try:
                src = whl.read(member)
            except KeyError:
                raise SystemExit(f"{wheel} has no {member}: pass a {WHEEL_REQ} wheel") from None
            if hashlib.sha256(src).hexdigest() != sha:
                raise SystemExit(f"{member} in {wheel} differs from the pinned {WHEEL_REQ} model")
            data = add_metadata(src, Path(arcname).stem, mean, std)
            info = zipfile.ZipInfo(arcname, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # unix, independent of the build host
            info.external_attr = 0o644 << 16
            info.extra = _aligned_extra(out.tell(), arcname)
            task.writestr(info, data)
    return out.getvalue()


def license_text(wheel: Path, task_name: str) -> str:
    """Apache-2.0 notice for the built file: source members, their hashes, what was changed."""
    with zipfile.ZipFile(wheel) as whl:
        full = whl.read("mediapipe-0.10.21.dist-info/LICENSE").decode()
    apache = full[: full.index("====")].rstrip() + "\n"  # the wheel appends other licences
    sources = "\n".join(f"  {member}  (sha256 {sha})" for member, _, _, _, sha in MODELS)
    return (
        f"{task_name}: MediaPipe BlazePose pose detector + full landmark model\n\n"
        "Copyright The MediaPipe Authors. Licensed under the Apache License, Version 2.0\n"
        "(full text below).\n\n"
        f"Source files, from the PyPI wheel {wheel.name}:\n{sources}\n\n"
        "Changes (Apache-2.0 section 4(b)): TFLite metadata added (input normalisation: detector\n"
        "mean 127.5 std 127.5, landmark model mean 0 std 255); renamed to pose_detector.tflite\n"
        "and pose_landmarks_detector.tflite and packed as an uncompressed zip (.task) by\n"
        "tools/build_pose_task.py.\n\n" + apache
    )


def download_wheel(dest: Path) -> Path:
    """pip-download the pinned wheel (no dependencies) into `dest`."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--platform", WHEEL_PLATFORM, "--python-version", WHEEL_PYTHON,
        "--implementation", "cp", "--abi", f"cp{WHEEL_PYTHON}", "-d", str(dest), WHEEL_REQ,
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    wheels = sorted(dest.glob("mediapipe-0.10.21-*.whl"))
    if not wheels:
        raise SystemExit(f"pip did not produce a {WHEEL_REQ} wheel in {dest}")
    return wheels[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", type=Path, help="a downloaded mediapipe 0.10.21 wheel")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="build twice and compare sha256")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel if args.wheel else download_wheel(Path(tmp))
        blob = build_task(wheel)
        digest = hashlib.sha256(blob).hexdigest()
        if args.check:
            again = hashlib.sha256(build_task(wheel)).hexdigest()
            if again != digest:
                print(f"NOT reproducible: {digest} != {again}", file=sys.stderr)
                return 1
            print("reproducible: two builds have the same sha256")
        notice = license_text(wheel, args.out.name)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(blob)
    (args.out.parent / LICENSE_NAME).write_text(notice)
    print(f"wrote {args.out} ({len(blob)} bytes, sha256 {digest}) and {LICENSE_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
