"""Print the live app's speed: the session exactly as the GUI runs it, on generated clips.

    nice -n 19 python benchmarks/bench_live.py [--seconds 15] [--cases paced-480 paced-720
        unpaced-480] [--minutes M] [--weights PATH] [--lp-threads N] [--overlap auto on off]
        [--cpus 0] [--vmc off on] [--json OUT]

Each case runs in a fresh process: the real `MainWindow` (Qt offscreen, widgets painted), its
session (capture thread paced at the clip's rate, localize, model), the display subscriber
(3D view + mesh overlay rendered with pyrender) and the GUI thread taking each drawn frame.
Clips are made in a temporary folder from `assets/sample_clip.mp4`: 640x480 at 30 fps,
1280x720 at 30 fps (the sample letterboxed) and 640x480 at 60 fps ("paced-480-60", a 60 fps
webcam: the sample played twice as fast). "unpaced" reads the file as fast as the session
takes frames (batch mode: none dropped at capture) for the throughput ceiling.

Without `--weights` the shipped weights (`assets/stdformer_landmarks.pt`) are used, as the app
does. Measured after the first mesh is on screen plus `--warmup` s: displayed fps, drop rate
(source frames never displayed), latency capture -> GUI p50/p90/p99, per-stage medians, process
CPU (cores used, CPU ms per displayed frame, by thread) and resident memory over time.
`--minutes M` is the soak mode (M minutes per case; RSS growth after the first minute and fps
per minute). Start-up: the bench process's seconds to the window, the first frame and the
first mesh on screen; case "startup" times `main.py` itself (input checks included) from its
log lines. Under load (`uptime` is printed), compare CPU ms per frame, not fps.
After each case, in the same process, the pose detector alone runs as fast as it can on the
same clip (`detector_fps`); `ratio_to_detector` = displayed fps / min(detector fps, source
fps): what the rest of the pipeline leaves of what the slowest stage allows. `--overlap on off`
compares the session's two-thread step with the one-thread step in one run (default `auto`: as
the app decides, which is on from two CPUs); `--cpus 0` runs the cases on one core (a weaker
machine). `--vmc off on` adds the VMC stream (`--vmc` of
main.py) to a UDP socket of the bench on 127.0.0.1, drained by the GUI thread's poll timer, and
reports the datagrams received per second (`vmc_datagrams_per_s`).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _bootstrap  # noqa: F401

from stdformer.paths import REPO_ROOT
from stdformer.session.pipeline import choose_weights, default_lookahead

CASES = {  # name: (size_wh, fps, paced)
    "paced-480": ((640, 480), 30.0, True),
    "paced-720": ((1280, 720), 30.0, True),
    "paced-480-60": ((640, 480), 60.0, True),  # a 60 fps webcam (the sample played 2x faster)
    "unpaced-480": ((640, 480), 30.0, False),
    "unpaced-720": ((1280, 720), 30.0, False),
}
STAGES = ("localize", "mesh", "latency", "render", "overlay", "compose", "display_latency")
TICK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ inputs (parent process)
def make_clip(size_wh: tuple[int, int], fps: float, out: Path) -> Path:
    """The sample clip re-timed to `fps` and letterboxed to `size_wh` (mp4v)."""
    import cv2
    import numpy as np

    cap = cv2.VideoCapture(str(REPO_ROOT / "assets" / "sample_clip.mp4"))
    w, h = size_wh
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    while True:
        ok, img = cap.read()
        if not ok:
            break
        scale = min(w / img.shape[1], h / img.shape[0])
        sw, sh = round(img.shape[1] * scale), round(img.shape[0] * scale)
        canvas = np.full((h, w, 3), 40, np.uint8)
        x, y = (w - sw) // 2, (h - sh) // 2
        canvas[y : y + sh, x : x + sw] = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
        writer.write(canvas)
    writer.release()
    return out


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def process_age_s() -> float:
    """Seconds since this process started (from /proc, so imports count too)."""
    with open("/proc/self/stat") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) - start_ticks / TICK


def thread_cpu_s() -> dict[str, float]:
    """CPU seconds per thread name: Python's names for its threads, else the OS name (digits
    folded: llvmpipe-0/1 -> llvmpipe-N)."""
    import threading

    py_names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = py_names.get(int(task.name)) or (task / "comm").read_text().strip()
            name = re.sub(r"\d+", "N", name)
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICK
    return out


def pct(samples: list[float], q: float) -> float | None:
    from stdformer.session.stats import percentile

    return round(percentile(samples, q), 1) if samples else None


def run_case(args: argparse.Namespace) -> dict[str, object]:
    """One case in this process: the GUI offscreen until the measurement window is over."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.prerequisites import neutralise_opencv_qt_env
    from stdformer.render.gl_platform import rasterize_inline

    neutralise_opencv_qt_env(os.environ)
    rasterize_inline(os.environ)  # as main.py does for the GUI (unless --lp-threads)
    import dataclasses

    from PyQt6.QtCore import QSettings, QTimer
    from PyQt6.QtWidgets import QApplication

    from app.config import AppConfig
    from app.main_window import MainWindow
    from stdformer.detect.localize import LocalizerConfig
    from stdformer.session.pipeline import PipelineConfig
    from stdformer.session.session import overlap_enabled

    paced = CASES[args.case][2]

    class BenchWindow(MainWindow):
        def session_config(self):  # unpaced: the batch reader, as fast as the session takes
            config = super().session_config()
            overlap = {"on": True, "off": False}.get(args.overlap[0])  # auto: the app's choice
            return dataclasses.replace(config, batch=not paced, overlap=overlap)

    app = QApplication(sys.argv[:1])
    settings = QSettings(str(Path(args.workdir) / f"{args.case}.ini"), QSettings.Format.IniFormat)
    pipe = PipelineConfig(
        localizer=LocalizerConfig(max_people=args.max_people),
        weights=args.weights,
        lookahead=default_lookahead() if args.lookahead is None else args.lookahead,
        body_output=args.body[0],
    )
    receiver = None
    if args.vmc[0] == "on":  # a local receiver for the stream; drained in poll()
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind(("127.0.0.1", 0))
        receiver.setblocking(False)
    vmc = f"127.0.0.1:{receiver.getsockname()[1]}" if receiver else None
    config = AppConfig(source=args.clip, pipeline=pipe, vmc=vmc)
    window = BenchWindow(config, [], args.clip, settings)
    window.show()
    app.processEvents()
    res: dict[str, object] = {"case": args.case, "window_s": round(process_age_s(), 2)}
    res["overlap_used"] = overlap_enabled(window.session_config())
    res["lookahead"] = window.session_config().pipeline.lookahead
    window.start()
    duration = args.minutes * 60.0 if args.minutes else args.seconds
    state: dict[str, object] = {"phase": "startup", "counts": dict.fromkeys(STAGES, 0)}
    state["vmc"] = 0  # datagrams received since the measurement started

    def drain_vmc() -> int:
        n = 0
        while receiver is not None:
            try:
                receiver.recv(65536)
            except BlockingIOError:
                break
            n += 1
        return n

    samples: dict[str, list[float]] = {s: [] for s in STAGES}
    timeline: list[dict[str, float]] = []

    def snapshot() -> dict[str, float]:
        session = window.worker.session if window.worker else None
        cap = session.capture_status() if session else None
        return {
            "t": time.perf_counter(),
            "cpu": time.process_time(),
            "displayed": window.stats.frames_displayed,
            "processed": window.stats.frames_seen,
            "read": cap.frames_read if cap else 0,
            "dropped": cap.frames_dropped if cap else 0,
            "rss": rss_mb(),
        }

    def poll() -> None:
        stats, now = window.stats, time.perf_counter()
        if window.last_error:
            res["error"] = window.last_error
            return finish()
        if state["phase"] == "startup":
            if stats.frames_displayed and "first_frame_s" not in res:
                res["first_frame_s"] = round(process_age_s(), 2)
            shown = window.shown
            if shown is not None and (shown.display_mesh is not None or shown.faces is None):
                res["first_mesh_s"] = round(process_age_s(), 2)
                state["phase"], state["until"] = "warmup", now + args.warmup
            return
        if state["phase"] == "warmup":
            if now < state["until"]:
                return
            for s in STAGES:
                state["counts"][s] = stats.samples_since(s, 0)[1]
            drain_vmc()
            state.update(phase="run", start=snapshot(), threads=thread_cpu_s(), next_rss=now)
            timeline.append(state["start"])
            return
        for s in STAGES:
            new, state["counts"][s] = stats.samples_since(s, state["counts"][s])
            samples[s].extend(new)
        state["vmc"] += drain_vmc()
        if now >= state["next_rss"]:
            timeline.append(snapshot())
            state["next_rss"] = now + args.sample_every
        if now - state["start"]["t"] >= duration:
            finish()

    def finish() -> None:
        timer.stop()
        if state["phase"] == "run":
            end = snapshot()
            res.update(summarize(state["start"], end, state["threads"], samples, timeline))
            if receiver is not None:
                dt = end["t"] - state["start"]["t"]
                res["vmc_datagrams_per_s"] = round((state["vmc"] + drain_vmc()) / dt, 1)
        window.close()
        app.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(250)
    QTimer.singleShot(int((duration + 120) * 1000), finish)  # never hang a benchmark run
    app.exec()
    if "displayed_fps" in res:  # the detector alone, same process and machine, right after
        res["detector_fps"] = detector_fps(args.clip, args.max_people, min(duration, 10.0))
        sustainable = min(res["detector_fps"], CASES[args.case][1])
        res["ratio_to_detector"] = round(res["displayed_fps"] / sustainable, 2)
    return res


def detector_fps(clip: str, max_people: int, seconds: float) -> float:
    """Frames per second MediaPipe's pose detector alone sustains on `clip` (frames decoded
    beforehand, the app's localizer with its tracking, as fast as it goes)."""
    from stdformer.detect.localize import LocalizerConfig, PersonLocalizer
    from stdformer.session.sources import open_source

    with open_source(clip) as src:
        frames = list(itertools.islice(src, 150))
    period_ns = frames[1].t_ns - frames[0].t_ns
    n, t0 = 0, time.perf_counter()
    with PersonLocalizer(LocalizerConfig(max_people=max_people)) as loc:
        while time.perf_counter() - t0 < seconds:  # media time runs on as a camera's does
            loc.process(dataclasses.replace(frames[n % len(frames)], t_ns=n * period_ns))
            n += 1
    return round(n / (time.perf_counter() - t0), 1)


def summarize(a, b, threads0, samples, timeline) -> dict[str, object]:
    dt, cpu = b["t"] - a["t"], b["cpu"] - a["cpu"]
    shown, read = b["displayed"] - a["displayed"], b["read"] - a["read"]
    threads1 = thread_cpu_s()
    by_thread = {k: round((v - threads0.get(k, 0.0)) / dt, 2) for k, v in threads1.items()}
    points = [*timeline, b]
    rss = [(round(s["t"] - a["t"]), round(s["rss"], 1)) for s in points]
    after_1min = [r for t, r in rss if t >= 60]
    per_min = []
    for s0, s1 in itertools.pairwise(points):
        if s1["t"] - s0["t"] > 1:
            per_min.append(round((s1["displayed"] - s0["displayed"]) / (s1["t"] - s0["t"]), 1))
    return {
        "seconds": round(dt, 1),
        "displayed_fps": round(shown / dt, 1),
        "processed_fps": round((b["processed"] - a["processed"]) / dt, 1),
        "source_fps": round(read / dt, 1),
        "drop_rate": round(1 - shown / read, 3) if read else None,
        "capture_drops": b["dropped"] - a["dropped"],
        "latency_ms": {q: pct(samples["display_latency"], q) for q in (50, 90, 99)},
        "stage_ms": {s: pct(v, 50) for s, v in samples.items() if v and s != "display_latency"},
        "cpu_cores": round(cpu / dt, 2),
        "cpu_ms_per_frame": round(cpu * 1e3 / shown, 1) if shown else None,
        "threads_cores": dict(sorted(by_thread.items(), key=lambda kv: -kv[1])[:8]),
        "rss_mb": rss if len(rss) <= 12 else [*rss[:: len(rss) // 12], rss[-1]],
        "rss_growth_after_1min_mb": round(after_1min[-1] - after_1min[0], 1)
        if len(after_1min) > 1
        else None,
        "fps_over_time": per_min,
    }


def startup(clip: Path, weights: str, env: dict[str, str], work: Path) -> dict[str, object]:
    """`main.py` as a user starts it: seconds from launch to the window, first frame, first mesh
    (from its log lines), checking inputs and loading the models included."""
    from datetime import datetime

    env = dict(env, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(work / "config"))
    cmd = [sys.executable, str(REPO_ROOT / "main.py"), "--source", str(clip), "--weights", weights]
    t0 = time.time()
    proc = subprocess.run(
        [*cmd, "--quit-after", "15"], env=env, capture_output=True, text=True, check=False
    )
    out: dict[str, object] = {"case": "startup", "exit_code": proc.returncode}
    for line in proc.stderr.splitlines():
        for key, text in (("window", "window shown"), ("first_frame", "first frame on"),
                          ("first_mesh", "first body mesh on")):  # fmt: skip
            if text in line and f"{key}_s" not in out:
                stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                out[f"{key}_s"] = round(stamp - t0, 2)
    return out


# ------------------------------------------------------------------ driver
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--cases",
        nargs="+",
        choices=[*CASES, "startup"],
        default=["startup", "paced-480", "paced-720", "unpaced-480"],
    )
    p.add_argument("--seconds", type=float, default=15.0, help="measured seconds per case")
    p.add_argument("--minutes", type=float, default=0.0, help="soak: minutes per case")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds after the first mesh")
    p.add_argument("--sample-every", type=float, default=None, help="RSS sample period, s")
    p.add_argument("--weights", help="checkpoint (default: the shipped weights)")
    p.add_argument(
        "--lookahead", type=int, help="smoother look-ahead frames (default: the app's choice, "
        "1 from 2 CPUs, 0 on one; the CPUs of --cpus)",
    )  # fmt: skip
    p.add_argument(
        "--body", nargs="+", default=["refined"], choices=("refined", "fit", "raw"),
        help="body outputs to compare (each case runs once per value, in one run)",
    )  # fmt: skip
    p.add_argument(
        "--overlap", nargs="+", default=["auto"], choices=("auto", "on", "off"),
        help="localize the next frame while this one completes (SessionConfig.overlap; auto: "
        "as the app decides, on from 2 CPUs); each case runs once per value, in one run",
    )  # fmt: skip
    p.add_argument(
        "--vmc", nargs="+", default=["off"], choices=("on", "off"),
        help="stream the body over VMC to a local receiver; each case runs once per value",
    )  # fmt: skip
    p.add_argument("--cpus", help="run the cases on these CPUs only (taskset -c LIST)")
    p.add_argument("--max-people", type=int, default=2)
    p.add_argument("--lp-threads", type=int, help="LP_NUM_THREADS (default 0, the app's)")
    p.add_argument("--json", help="write all results here")
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--clip", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.sample_every is None:
        args.sample_every = 30.0 if args.minutes else 5.0
    if args.case:  # a child: run one case, write its result
        Path(args.out).write_text(json.dumps(run_case(args)))
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_live_") as tmp:
        work = Path(tmp)
        weights = args.weights or str(choose_weights(None))
        env = dict(os.environ)
        if args.lp_threads is not None:
            env["LP_NUM_THREADS"] = str(args.lp_threads)
        for case in args.cases:
            if case == "startup":
                clip = work / "clip_startup.mp4"
                make_clip((640, 480), 30.0, clip)
                load = os.getloadavg()[0]
                res = startup(clip, weights, env, work)
                res["load_avg_1min"] = [round(load, 2), round(os.getloadavg()[0], 2)]
                results.append(res)
                print(json.dumps(res))
                continue
            size_wh, fps, _ = CASES[case]
            clip = work / f"clip_{size_wh[0]}x{size_wh[1]}_{fps:g}.mp4"
            if not clip.exists():
                make_clip(size_wh, fps, clip)
            for body, overlap, vmc in itertools.product(args.body, args.overlap, args.vmc):
                out = work / f"{case}-{body}-{overlap}-{vmc}.json"
                load = os.getloadavg()[0]
                cmd = ["taskset", "-c", args.cpus] if args.cpus else []
                cmd += [sys.executable, __file__, "--case", case, "--clip", str(clip)]
                cmd += ["--workdir", tmp, "--out", str(out), "--weights", weights, "--body", body]
                cmd += ["--overlap", overlap, "--vmc", vmc]
                for opt in ("seconds", "minutes", "warmup", "sample_every", "lookahead",
                            "max_people"):  # fmt: skip
                    if getattr(args, opt) is not None:
                        cmd += [f"--{opt.replace('_', '-')}", str(getattr(args, opt))]
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
                if not out.exists():
                    failed = f"{case}/{body}/{overlap}/vmc {vmc}: failed (exit {proc.returncode})"
                    print(f"{failed}\n{proc.stderr[-3000:]}")
                    continue
                res = json.loads(out.read_text())
                res["body"], res["overlap"], res["cpus"] = body, overlap, args.cpus or "all"
                res["vmc"] = vmc
                res["load_avg_1min"] = [round(load, 2), round(os.getloadavg()[0], 2)]
                res["lp_threads"] = args.lp_threads
                results.append(res)
                print(json.dumps(res, indent=1))
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
