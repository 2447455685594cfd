"""The training loop: one process, or several through `torchrun` (DDP) with no code change.

Batches are deterministic functions of (seed, step): every process draws the same global batch
and takes its share (`rank::world_size`), so 1 process with batch B and 2 processes with B/2
each see the same windows and, with DDP's gradient averaging, take the same steps (tested).
Resuming from `last.pt` therefore continues exactly where the run stopped. Rank 0 validates on
windows of every 10th training-corpus clip (never trained on; the held-out corpus stays for
`evaluate`) every `val_every` steps, writes `last.pt` (weights + optimiser) and
`best.pt` (a loadable network checkpoint, lowest validation PA-MPJPE + MPVPE).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from stdformer.body.body_model import BodyModel, load_body_model
from stdformer.body.mesh_levels import mesh_levels_for_body
from stdformer.body.regressors import eval_joint_regressor, regress
from stdformer.data.corpus import load_corpus
from stdformer.data.dataset import (
    SIM_SEED0,
    ClipRecord,
    collate,
    corpus_record,
    detected_starts,
    make_window,
    simulated_record,
    true_vertices,
)
from stdformer.data.simulate import SimCalibration
from stdformer.eval.metrics import mpvpe, pa_mpjpe
from stdformer.inference.predictor import resolve_device
from stdformer.model.checkpoint import model_from_checkpoint, read_checkpoint, save_checkpoint
from stdformer.model.config import landmark_config
from stdformer.model.stdformer import STDFormer, build_model
from stdformer.paths import REPO_ROOT
from stdformer.train.config import TrainConfig
from stdformer.train.losses import STDFormerLoss, Targets

log = logging.getLogger(__name__)
CMU_SEED0, CMU_VAL_SEED0 = 3_000_000, 3_500_000


@dataclass
class Pools:
    real: list[ClipRecord]  # training corpus clips (real detections)
    val: list[ClipRecord]  # every 10th corpus clip: validation / model selection only
    sim: list[ClipRecord]
    calib: tuple[SimCalibration, ...]  # simulated windows draw one; validation: the first
    cmu: list[ClipRecord] = dataclasses.field(default_factory=list)  # CMU motion, simulated


def build_pools(body: BodyModel, cfg: TrainConfig, show: bool) -> Pools:
    corpus = load_corpus(Path(cfg.corpus_dir).expanduser())
    recs = [
        (c.seed % 10 == 0, corpus_record(body, c))
        for c in tqdm(corpus, "corpus clips", disable=not show)
    ]
    recs = [(v, r) for v, r in recs if len(detected_starts(r.detected, cfg.T))]
    real, val = [r for v, r in recs if not v], [r for v, r in recs if v]
    seeds = range(SIM_SEED0, SIM_SEED0 + cfg.sim_clips)
    sim = [simulated_record(body, s) for s in tqdm(seeds, "simulated clips", disable=not show)]
    if not real and cfg.sim_fraction < 1:
        raise FileNotFoundError(
            f"no corpus clips in {cfg.corpus_dir}: run `python tools/make_corpus.py --split "
            "train --count N` first, or train on the simulator alone with --sim-fraction 1"
        )
    cmu: list[ClipRecord] = []
    if cfg.cmu_dir:
        cmu, cmu_val = _cmu_pools(body, cfg, show)
        if not val:  # no rendered corpus here: select on held-out CMU motion, simulated
            val = cmu_val
    return Pools(real, val, sim, _calibrations(cfg), cmu)


def _calibrations(cfg: TrainConfig) -> tuple[SimCalibration, ...]:
    if not cfg.calibrations:
        return (SimCalibration.load(),)
    paths = [Path(p).expanduser() for p in cfg.calibrations]
    paths = [p if p.is_absolute() else REPO_ROOT / p for p in paths]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"simulator calibration {path} not found (calibrations = …)")
    return tuple(SimCalibration.load(p) for p in paths)


def _cmu_pools(body: BodyModel, cfg: TrainConfig, show: bool):
    """CMU training records and validation records of the held-out CMU clips."""
    from stdformer.data import cmu
    from stdformer.data.cmu_source import cmu_record

    folder = Path(cfg.cmu_dir).expanduser()
    train_clips, val_clips = cmu.load_cmu(folder), cmu.load_cmu(folder, held_out=True)
    if not train_clips or not val_clips:
        raise FileNotFoundError(
            f"no converted CMU clips in {folder}: run `python tools/convert_cmu.py --mirror DIR`"
        )
    seeds = range(CMU_SEED0, CMU_SEED0 + cfg.cmu_clips)
    recs = [cmu_record(body, train_clips, s) for s in tqdm(seeds, "CMU clips", disable=not show)]
    seeds = range(CMU_VAL_SEED0, CMU_VAL_SEED0 + cfg.cmu_val_clips)
    val = [cmu_record(body, val_clips, s) for s in tqdm(seeds, "CMU val", disable=not show)]
    return recs, val


def sample_batch(pools: Pools, cfg: TrainConfig, step: int, rank: int, world: int) -> dict:
    """The global batch of `step` (same on every process), this process's share."""
    rng = np.random.default_rng([cfg.seed, step])
    windows = []
    for _ in range(cfg.batch_size):
        use_sim = rng.random() < cfg.sim_fraction or not pools.real
        sim = pools.sim
        if use_sim and pools.cmu and rng.random() < cfg.cmu_fraction:
            sim = pools.cmu
        rec = (
            sim[int(rng.integers(len(sim)))]
            if use_sim
            else (pools.real[int(rng.integers(len(pools.real)))])
        )
        starts = detected_starts(rec.detected, cfg.T)
        calib = pools.calib[int(rng.integers(len(pools.calib)))]
        windows.append(make_window(rec, int(rng.choice(starts)), cfg.T, calib, rng))
    return collate(windows[rank::world])


def lr_at(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    u = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(u, 1.0))))


def decoded_frames(batch: dict, frames: slice) -> dict:
    """The per-frame entries of a batch at the decoded window positions (x keeps all T)."""
    per_frame = ("global_orient_cam", "body_pose", "joints2d", "joints2d_conf")
    return {k: (v[:, frames] if k in per_frame else v) for k, v in batch.items()}


def targets_for(body: BodyModel, eval_reg: torch.Tensor, batch: dict, device) -> Targets:
    verts = true_vertices(body, batch).to(device)  # (B, T, V, 3)
    return Targets(
        verts_full=verts,
        joints_3d=regress(eval_reg, verts),
        joints_2d=batch["joints2d"].to(device),
        joints_2d_conf=batch["joints2d_conf"].to(device),
    )


@torch.no_grad()
def validate(model: STDFormer, body: BodyModel, pools: Pools, cfg: TrainConfig, device) -> dict:
    """Metrics (mm) on fixed validation windows, at the position causal streaming reads out."""
    model.eval()
    eval_reg = eval_joint_regressor(body).to(device)
    rng = np.random.default_rng(12345)
    errs = {"mpjpe": [], "pa_mpjpe": [], "mpvpe": []}
    for i in range(0, cfg.val_windows, 16):
        wins = []
        for _ in range(min(16, cfg.val_windows - i)):
            rec = pools.val[int(rng.integers(len(pools.val)))]
            start = int(rng.choice(detected_starts(rec.detected, cfg.T)))
            wins.append(make_window(rec, start, cfg.T, pools.calib[0], rng))
        last = slice(cfg.T - 1, cfg.T)  # the frame causal streaming reads out
        batch = collate(wins)
        out = model(batch["x"].to(device), frames=last)
        gt = true_vertices(body, decoded_frames(batch, last)).to(device)
        pj, gj = regress(eval_reg, out.verts_full), regress(eval_reg, gt)
        pelvis = (2, 3)
        errs["mpjpe"].append(_centred_err(pj, gj, pelvis))
        errs["pa_mpjpe"].append(pa_mpjpe(pj.flatten(0, 1), gj.flatten(0, 1), reduce=False))
        errs["mpvpe"].append(mpvpe(out.verts_full.flatten(0, 1), gt.flatten(0, 1), reduce=False))
    model.train()
    return {k: 1000 * float(torch.cat([e.flatten() for e in v]).mean()) for k, v in errs.items()}


def _centred_err(pj: torch.Tensor, gj: torch.Tensor, pelvis: tuple[int, int]) -> torch.Tensor:
    pc = pj - pj[..., list(pelvis), :].mean(-2, keepdim=True)
    gc = gj - gj[..., list(pelvis), :].mean(-2, keepdim=True)
    return (pc - gc).norm(dim=-1).mean(-1)


def _setup_distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def train(cfg: TrainConfig, show_progress: bool = True) -> dict:
    """Run (or resume) training; returns the last validation metrics (rank 0)."""
    rank, world = _setup_distributed()
    if cfg.batch_size % world:
        raise ValueError(f"batch size {cfg.batch_size} must divide by {world} processes")
    device = resolve_device(cfg.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    show = show_progress and rank == 0
    body = load_body_model()
    levels = mesh_levels_for_body(body)
    model = build_model(landmark_config(cfg.preset, T=cfg.T, dropout=0.0), levels).to(device)
    loss_fn = STDFormerLoss(levels, eval_joint_regressor(body), full_samples=2048).to(device)
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    out_dir = Path(cfg.out_dir).expanduser()
    start, best = _resume(out_dir / "last.pt", model, opt)
    if start == 0 and cfg.init_from:
        ckpt = read_checkpoint(Path(cfg.init_from).expanduser())
        model.load_state_dict(model_from_checkpoint(ckpt, levels).state_dict())
        log.info("initialised from %s", cfg.init_from)
    net = model
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    pools = build_pools(body, cfg, show)
    eval_reg = eval_joint_regressor(body).to(device)
    metrics: dict = {}
    if rank == 0 and start == 0 and cfg.init_from and pools.val:  # the starting point's score
        start_metrics = validate(model, body, pools, cfg, device)
        tqdm.write("step 0: " + ", ".join(f"{k} {v:.1f}" for k, v in start_metrics.items()))
    bar = tqdm(range(start, cfg.steps), "train", initial=start, total=cfg.steps, disable=not show)
    t0 = time.time()
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(cfg, step)
        batch = sample_batch(pools, cfg, step, rank, world)
        frames = slice(cfg.T - cfg.decode_last, cfg.T)  # what streaming reads out
        # full=False: the loss samples the full mesh through the fixed up-sampling rows
        out = net(batch["x"].to(device), full=False, frames=frames)
        terms = loss_fn(out, targets_for(body, eval_reg, decoded_frames(batch, frames), device))
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        bar.set_postfix(loss=f"{terms['total'].item():.1f}", j3d=f"{terms['joints_3d'].item():.4f}")
        last = step + 1 == cfg.steps
        if rank == 0 and ((step + 1) % cfg.val_every == 0 or last):
            metrics = validate(model, body, pools, cfg, device) if pools.val else {}
            score = metrics.get("pa_mpjpe", 0.0) + metrics.get("mpvpe", 0.0)
            meta = {
                "step": step + 1,
                "train_config": dataclasses.asdict(cfg),
                **metrics,
                "minutes": (time.time() - t0) / 60,
            }
            if pools.val and score < best:
                best = score
                save_checkpoint(out_dir / "best.pt", model, meta)
            _save_last(out_dir / "last.pt", model, opt, step + 1, best)
            tqdm.write(f"step {step + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in metrics.items()))
    if not (out_dir / "best.pt").exists() and rank == 0:
        save_checkpoint(out_dir / "best.pt", model, {"step": cfg.steps})
    if world > 1:
        dist.barrier()
    return metrics


def _save_last(path: Path, model: STDFormer, opt, step: int, best: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "best": best},
        tmp,
    )
    tmp.replace(path)


def _resume(path: Path, model: STDFormer, opt) -> tuple[int, float]:
    if not path.exists():
        return 0, math.inf
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    log.info("resumed from %s at step %d", path, state["step"])
    return int(state["step"]), float(state["best"])
