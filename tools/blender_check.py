"""Import an exported BVH or GLB in Blender (headless) and dump what Blender plays.

    blender --background --factory-startup --python tools/blender_check.py -- FILE OUT.json

Writes {"frames": N, "fps": f, "joints": {name: [[x, y, z] per frame]}} with the bone heads
in the exports' Y-up frame (Blender's Z-up world (x, y, z) -> (x, z, -y)), metres. BVH is
imported with Forward -Z, Up Y, scale 1 (a Y-up metre skeleton, as README says); GLB with the
glTF importer's defaults. Used by tests/recording/test_blender_import.py and the README's
verification; runs in Blender's own Python, so it imports nothing from the project.

Two quirks of Debian 12's Blender 3.4.1 are worked around here (not in the files): its BVH
importer opens files with mode 'rU' (rejected by its Python 3.11) and its glTF importer uses
`np.bool` (removed in numpy 1.24, glTF-Blender-IO#1844, fixed in Blender 3.5).
"""

import builtins
import json
import struct
import sys

import bpy

try:
    import numpy as np  # Debian: python3-numpy, needed by the glTF importer

    if not hasattr(np, "bool"):
        np.bool = bool  # glTF importer of Blender 3.4 on numpy >= 1.24
except ImportError:
    pass

_open = builtins.open


def _open_without_u(file, mode="r", *args, **kwargs):
    return _open(file, mode.replace("U", ""), *args, **kwargs)


def _glb_extras(path: str) -> dict:
    with _open(path, "rb") as f:
        head = f.read(20)
        length = struct.unpack("<I", head[12:16])[0]
        return json.loads(f.read(length)).get("asset", {}).get("extras", {})


def main() -> None:
    path, out = sys.argv[sys.argv.index("--") + 1 :][:2]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    if path.lower().endswith(".bvh"):
        builtins.open = _open_without_u
        try:
            bpy.ops.import_anim.bvh(
                filepath=path, axis_forward="-Z", axis_up="Y", global_scale=1.0,
                update_scene_fps=True, update_scene_duration=True, use_fps_scale=False,
            )  # fmt: skip
        finally:
            builtins.open = _open
        fps = scene.render.fps / scene.render.fps_base
    else:
        # Blender keys glTF times at the scene's rate (24 by default): set the file's first.
        fps = _glb_extras(path).get("fps")
        if fps:
            scene.render.fps, scene.render.fps_base = round(fps), round(fps) / fps
        bpy.ops.import_scene.gltf(filepath=path)
    arm = next(o for o in scene.objects if o.type == "ARMATURE")
    start, end = arm.animation_data.action.frame_range  # the keyed frames, as imported
    n_frames = round(end - start) + 1
    joints = {b.name: [] for b in arm.pose.bones}
    start = round(start)
    for f in range(n_frames):
        scene.frame_set(start + f)
        for b in arm.pose.bones:
            x, y, z = arm.matrix_world @ b.head
            joints[b.name].append([x, z, -y])
    with _open(out, "w") as fh:
        json.dump({"frames": n_frames, "fps": fps, "joints": joints}, fh)


main()
