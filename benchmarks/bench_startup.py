"""Print the app's start-up time: `python main.py` launched -> window shown -> first camera frame
on screen -> first body mesh on screen, broken down by stage.

    python benchmarks/bench_startup.py [--runs 3] [--display :77] [--importtime] [-- MAIN ARGS]

Each run launches `main.py` in a fresh process exactly as a user does (no arguments by default:
the first camera, else the embedded sample clip, the shipped weights), with `-v` so its
start-up milestones are logged (`log.debug` lines named in MILESTONES), reads its log until the
first body mesh is on screen, then closes it with SIGTERM (the app closes as on Ctrl+C). Times
are seconds since launch, from the log lines' timestamps, and `cpu_s` is the CPU time the app
(with its GL probe) had used by then: steadier than wall time on a shared machine. The medians
over the runs follow.
Qt runs offscreen unless `--display` names an X display (e.g. Xvfb's). Saved settings are
isolated (a temporary XDG_CONFIG_HOME), so every run starts from the defaults.

`--importtime` adds one run under `python -X importtime` and prints the import cost of the
heaviest top-level packages (self time summed per package; slower than a plain run).
The load average is printed before and after: on a shared machine compare runs taken together.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# milestone: the log message that marks it (first occurrence)
MILESTONES = {
    "imports": "arguments parsed",
    "inputs_checked": "inputs checked",
    "window": "window shown",
    "pose_detector": "pose detector ready",
    "models": "models loaded",
    "view_3d": "3D view ready",
    "source": "source opened",
    "first_frame": "first frame on screen",
    "first_mesh": "first body mesh on screen",
}
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def run_once(
    main_args: list[str], env: dict[str, str], timeout_s: float, importtime: bool = False
) -> tuple[dict[str, float], list[str]]:
    """One launch of main.py: seconds since launch per milestone, and its stderr lines."""
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else [])]
    cmd += [str(REPO_ROOT / "main.py"), "-v", *main_args]
    t0 = time.time()
    proc = subprocess.Popen(
        cmd, env=env, cwd=REPO_ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    times: dict[str, float] = {}
    lines: list[str] = []
    deadline = t0 + timeout_s
    assert proc.stderr is not None
    for line in proc.stderr:
        lines.append(line.rstrip("\n"))
        stamp = STAMP.match(line)
        if stamp:
            t = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() - t0
            for key, text in MILESTONES.items():
                if key not in times and text in line:
                    times[key] = round(t, 2)
        if "first_mesh" in times or time.time() > deadline:
            times["cpu_s"] = process_cpu_s(proc.pid)
            proc.send_signal(signal.SIGTERM)
            break
    try:
        rest, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, _ = proc.communicate()
    lines += (rest or "").splitlines()
    times["exit_code"] = proc.returncode
    return times, lines


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process `pid` and its waited-for children have used: on a
    shared machine a steadier measure of the work done than wall time."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return round((utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK"), 2)


def import_costs(lines: list[str], top: int) -> list[tuple[str, float]]:
    """Seconds of import self time per top-level package, heaviest first."""
    per_package: dict[str, float] = {}
    for line in lines:
        m = IMPORT_LINE.match(line)
        if m:
            package = m.group(4).split(".")[0]
            per_package[package] = per_package.get(package, 0.0) + int(m.group(1)) / 1e6
    return sorted(per_package.items(), key=lambda kv: -kv[1])[:top]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--display", help="X display to open the window on (default: offscreen)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per run at most")
    p.add_argument("--importtime", action="store_true", help="one more run: import costs")
    p.add_argument("main_args", nargs="*", help="arguments for main.py (after --)")
    args = p.parse_args()
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)
    # As a user runs it: Python caches compiled modules (this project's own are ~0.15 s to
    # compile each start when a shell sets PYTHONDONTWRITEBYTECODE); the first run writes them.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.display:
        env["DISPLAY"] = args.display
    else:
        env["QT_QPA_PLATFORM"] = "offscreen"
    print(f"load average before: {os.getloadavg()}")
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as tmp:
        env["XDG_CONFIG_HOME"] = tmp  # default settings every run
        for i in range(args.runs):
            times, lines = run_once(args.main_args, env, args.timeout)
            runs.append(times)
            print(f"run {i + 1}: {times}")
            if "first_mesh" not in times:
                print("\n".join(lines[-30:]))
        if args.importtime:
            times, lines = run_once(args.main_args, env, args.timeout, importtime=True)
            print(f"importtime run: {times}")
            for package, s in import_costs(lines, 20):
                print(f"  import {package:<28s} {s:6.2f} s")
    print(f"load average after: {os.getloadavg()}")
    print(f"median of {len(runs)} runs (s since launch):")
    for key in (*MILESTONES, "cpu_s"):
        values = [r[key] for r in runs if key in r]
        if values:
            runs_text = ", ".join(map(str, values))
            print(f"  {key:<15s} {statistics.median(values):6.2f}   ({runs_text})")


if __name__ == "__main__":
    main()
