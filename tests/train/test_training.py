"""Training: the loss goes down, and DDP on two CPU processes matches one process."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from stdformer.train.config import TrainConfig


def _tiny(out: Path, corpus: Path, **kw) -> TrainConfig:
    base = dict(out_dir=str(out), corpus_dir=str(corpus), heldout_dir=str(corpus), steps=2,
                batch_size=2, decode_last=2, sim_clips=3, sim_fraction=1.0, val_every=100,
                warmup_steps=1, lr=1e-3, threads=1)  # fmt: skip
    base.update(kw)
    return TrainConfig(**base)


def test_a_few_steps_reduce_the_loss(tmp_path: Path) -> None:
    from stdformer.body.body_model import load_body_model
    from stdformer.body.mesh_levels import mesh_levels_for_body
    from stdformer.body.regressors import eval_joint_regressor
    from stdformer.model.config import landmark_config
    from stdformer.model.stdformer import build_model
    from stdformer.train.loop import build_pools, decoded_frames, sample_batch, targets_for
    from stdformer.train.losses import STDFormerLoss

    torch.manual_seed(0)
    cfg = _tiny(tmp_path / "run", tmp_path)
    body = load_body_model()
    levels = mesh_levels_for_body(body)
    model = build_model(landmark_config("S", dropout=0.0), levels)
    loss_fn = STDFormerLoss(levels, eval_joint_regressor(body), full_samples=512)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    batch = sample_batch(build_pools(body, cfg, show=False), cfg, step=0, rank=0, world=1)
    frames = slice(cfg.T - 2, cfg.T)
    tgt = targets_for(body, eval_joint_regressor(body), decoded_frames(batch, frames), "cpu")
    losses = []
    for _ in range(25):
        terms = loss_fn(model(batch["x"], full=False, frames=frames), tgt)
        opt.zero_grad()
        terms["total"].backward()
        opt.step()
        losses.append(terms["total"].item())
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.6 * losses[0], losses


def _ddp_worker(rank: int, port: int, cfg: TrainConfig) -> None:
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2",
                      RANK=str(rank), LOCAL_RANK=str(rank))  # fmt: skip
    from stdformer.train.loop import train

    train(cfg, show_progress=False)
    torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_ddp_two_cpu_processes_match_one(tmp_path: Path) -> None:
    from stdformer.train.loop import train

    # SGD: Adam's first steps are ~lr * sign(grad), which float-order noise can flip
    single = _tiny(tmp_path / "single", tmp_path / "no-corpus", optimizer="sgd", lr=1e-4)
    train(single, show_progress=False)
    double = single.replace(out_dir=str(tmp_path / "ddp"))
    mp.get_context("spawn")
    mp.spawn(_ddp_worker, args=(_free_port(), double), nprocs=2, join=True)
    a = torch.load(tmp_path / "single" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "ddp" / "last.pt", weights_only=True)["model"]
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=2e-5, rtol=1e-4, msg=k)
    assert (tmp_path / "ddp" / "best.pt").exists()  # a loadable network checkpoint


def test_named_calibrations_load_in_order_and_feed_the_batches(tmp_path: Path) -> None:
    """`calibrations = [...]` (TOML or --calibrations) are loaded in order (the first one
    validates) and sampled into batches; a missing file is named before any training."""
    import argparse

    from stdformer.data.simulate import SimCalibration
    from stdformer.train.config import add_config_flags, config_from_args
    from stdformer.train.loop import Pools, _calibrations

    shipped = SimCalibration.load()
    loud = tmp_path / "loud.json"
    SimCalibration(**{**shipped.__dict__, "std_in": shipped.std_in * 20}).save(loud)
    p = argparse.ArgumentParser()
    add_config_flags(p)
    args = p.parse_args(["--calibrations", str(loud), "stdformer/data/sim_calibration.json"])
    cfg = _tiny(tmp_path / "run", tmp_path, **{"calibrations": config_from_args(args).calibrations})
    calibs = _calibrations(cfg)
    assert len(calibs) == 2 and np.allclose(calibs[0].std_in, 20 * shipped.std_in)
    with pytest.raises(FileNotFoundError, match=r"nowhere\.json"):
        _calibrations(cfg.replace(calibrations=["nowhere.json"]))
    from stdformer.body.body_model import load_body_model
    from stdformer.train.loop import build_pools, sample_batch

    pools: Pools = build_pools(load_body_model(), cfg.replace(batch_size=32), show=False)
    assert len(pools.calib) == 2
    batch = sample_batch(pools, cfg.replace(batch_size=32), step=0, rank=0, world=1)
    assert len(batch["x"]) == 32
