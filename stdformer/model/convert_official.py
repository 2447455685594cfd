"""Convert the authors' released STDFormer/FastMETRO `state_dict.bin` into our parameter names.

The release is FastMETRO's `FastMETRO_Body_Network` with an HRNet-W64 classification backbone
(key names read from FastMETRO's public code):

  official                                   ours
  backbone.<hrnet>                           frontend.backbone.<hrnet>   (same HRNet layout)
  backbone.classifier.*                      - (ImageNet classifier, unused: explicitly ignored)
  conv_1x1.*                                 frontend.conv_1x1.*
  transformer_1.* / transformer_2.*          stage1.* / stage2.*
    ...layers.N.linear1 / linear2              ...layers.N.ffn.0 / ffn.3
    ...decoder.layers.N.multihead_attn         ...decoder.layers.N.cross_attn
  cam_token_embed, joint_token_embed, vertex_token_embed, dim_reduce_enc_cam,
  dim_reduce_enc_img, dim_reduce_dec, cam_predictor, xyz_regressor         (same names)
  coarse2intermediate_upsample.* (alias upsampling.*)                       mesh_upsampling.*
  <prefix>.{conv1x1,conv3x3,gn}.*  (SD / TD EMA blocks)   frontend.disentangle_block.{sd,td}.ema.*

The SD/TD names of the release are not known; EMA blocks are recognised by their parameter
names and assigned by group width (16 channels -> SD, T channels -> TD), or mapped explicitly
with `prefix_map`. Nothing is dropped silently: every source key that maps nowhere, every
target key left without a value and every shape mismatch is listed in the report, and
`apply_conversion` refuses an incomplete result unless the caller allows it explicitly.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from stdformer.model.state_dict_io import read_state_dict
from stdformer.paths import BadFileError

log = logging.getLogger(__name__)

# Official keys known to have no counterpart on purpose.
IGNORED_PREFIXES = ("backbone.classifier.",)
# Top-level renames, official prefix -> our prefix. Order matters (first match wins).
PREFIX_RULES: tuple[tuple[str, str], ...] = (
    ("backbone.", "frontend.backbone."),
    ("conv_1x1.", "frontend.conv_1x1."),
    ("transformer_1.", "stage1."),
    ("transformer_2.", "stage2."),
    ("coarse2intermediate_upsample.", "mesh_upsampling."),
    ("upsampling.", "mesh_upsampling."),
    ("cam_token_embed.", "cam_token_embed."),
    ("joint_token_embed.", "joint_token_embed."),
    ("vertex_token_embed.", "vertex_token_embed."),
    ("dim_reduce_enc_cam.", "dim_reduce_enc_cam."),
    ("dim_reduce_enc_img.", "dim_reduce_enc_img."),
    ("dim_reduce_dec.", "dim_reduce_dec."),
    ("cam_predictor.", "cam_predictor."),
    ("xyz_regressor.", "xyz_regressor."),
)
# Renames inside transformer layers (DETR names -> ours), applied to stage keys only.
LAYER_RULES: tuple[tuple[str, str], ...] = (
    (".linear1.", ".ffn.0."),
    (".linear2.", ".ffn.3."),
    (".multihead_attn.", ".cross_attn."),
)
# Optional FastMETRO parts we do not build: explain them when they show up unmatched.
UNSUPPORTED_HINTS = {
    "position_encoding_": "learned positional encodings (we use the sine encoding)",
    "intermediate2fine_upsample.": "learnable mid->full upsampling (we use the fixed matrix)",
    "smpl_parameter_regressor.": "optional SMPL-parameter regressor",
}
SD_PREFIX = "frontend.disentangle_block.sd.ema."
TD_PREFIX = "frontend.disentangle_block.td.ema."
_EMA_KEY = re.compile(r"^(?P<prefix>.+?)\.?(?P<leaf>(conv1x1|conv3x3|gn)\.(weight|bias))$")
_WRAPPER_PREFIXES = ("module.", "model.")


@dataclass
class ConversionReport:
    """Result of mapping an official state dict onto our model's keys."""

    state_dict: dict[str, torch.Tensor] = field(default_factory=dict)  # our key -> tensor
    renamed: dict[str, str] = field(default_factory=dict)  # official key -> our key
    ignored: list[str] = field(default_factory=list)  # official keys dropped on purpose
    unmatched_source: list[str] = field(default_factory=list)  # official keys mapping nowhere
    missing_target: list[str] = field(default_factory=list)  # our keys without a value
    shape_mismatch: list[tuple[str, str, tuple[int, ...], tuple[int, ...]]] = field(
        default_factory=list
    )  # (official key, our key, official shape, our shape)
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every target key got a tensor of the right shape and nothing was left."""
        return not (self.unmatched_source or self.missing_target or self.shape_mismatch)

    def summary(self) -> str:
        """Human-readable report listing every problem key."""
        lines = [
            f"converted {len(self.state_dict)} tensors, ignored {len(self.ignored)} "
            f"(ImageNet classifier), {len(self.unmatched_source)} official keys unmatched, "
            f"{len(self.missing_target)} model keys missing, "
            f"{len(self.shape_mismatch)} shape mismatches"
        ]
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"unmatched official key: {k}" for k in self.unmatched_source]
        lines += [f"missing model key: {k}" for k in self.missing_target]
        lines += [
            f"shape mismatch: {src} {tuple(a)} -> {dst} {tuple(b)}"
            for src, dst, a, b in self.shape_mismatch
        ]
        return "\n".join(lines)


def official_to_ours(key: str) -> str | None:
    """Our name for an official key by the fixed rules; None when no rule applies."""
    for src, dst in PREFIX_RULES:
        if key.startswith(src):
            out = dst + key[len(src) :]
            if dst.startswith("stage"):
                for a, b in LAYER_RULES:
                    out = out.replace(a, b)
            return out
    return None


def ours_to_official(key: str) -> str | None:
    """Inverse of `official_to_ours` for non-EMA keys (first alias); None for SD/TD keys."""
    if key.startswith((SD_PREFIX, TD_PREFIX)):
        return None
    for src, dst in PREFIX_RULES:
        if key.startswith(dst):
            out = src + key[len(dst) :]
            if dst.startswith("stage"):
                for a, b in LAYER_RULES:
                    out = out.replace(b, a)
            return out
    return None


def _assign_ema_prefixes(
    keys: list[str], source: Mapping[str, torch.Tensor], num_frames: int, report: ConversionReport
) -> dict[str, str]:
    """Map official EMA prefixes to SD/TD by group width (conv1x1 weight is (c, c, 1, 1))."""
    widths: dict[str, int] = {}
    for k in keys:
        m = _EMA_KEY.match(k)
        if m and m.group("leaf") == "conv1x1.weight":
            widths[m.group("prefix")] = int(source[k].shape[0])
    by_role: dict[str, list[str]] = {"sd": [], "td": []}
    for prefix, c in widths.items():
        if c == num_frames and c != 16:
            by_role["td"].append(prefix)
        elif c == 16 and c != num_frames:
            by_role["sd"].append(prefix)
    mapping: dict[str, str] = {}
    for role, target in (("sd", SD_PREFIX), ("td", TD_PREFIX)):
        found = by_role[role]
        if len(found) == 1:
            mapping[found[0]] = target
            report.notes.append(f"EMA block '{found[0]}' assigned to {role.upper()} by width")
        elif len(found) > 1:
            report.notes.append(f"several {role.upper()} candidates {found}: pass prefix_map")
    left = sorted(set(widths) - set(mapping))
    if left:
        report.notes.append(f"EMA blocks {left} not assigned to SD/TD: pass prefix_map")
    return mapping


def convert_state_dict(
    source: Mapping[str, torch.Tensor],
    target: Mapping[str, torch.Tensor],
    num_frames: int = 8,
    prefix_map: Mapping[str, str] | None = None,
) -> ConversionReport:
    """Map an official state dict onto `target` (our model's `state_dict()`).

    `prefix_map` adds explicit official-prefix -> our-prefix renames tried before the fixed
    rules (e.g. {"backbone.ema_t.": "frontend.disentangle_block.td.ema."}).
    `num_frames` is T, used to recognise the TD block by its group width.
    """
    report = ConversionReport()
    source = _strip_wrapper_prefix(source, report)
    explicit = dict(prefix_map or {})
    pending: list[str] = []
    for key in source:
        if key.startswith(IGNORED_PREFIXES):
            report.ignored.append(key)
            continue
        ours = next((v + key[len(k) :] for k, v in explicit.items() if key.startswith(k)), None)
        if ours is None and not _EMA_KEY.match(key):
            ours = official_to_ours(key)
        if ours is None:
            pending.append(key)
        else:
            report.renamed[key] = ours
    # EMA blocks (SD/TD) by width; they may sit under `backbone.` so were held back above.
    auto = _assign_ema_prefixes(pending, source, num_frames, report)
    for key in list(pending):
        m = _EMA_KEY.match(key)
        if m and m.group("prefix") in auto:
            report.renamed[key] = auto[m.group("prefix")] + m.group("leaf")
            pending.remove(key)
    report.unmatched_source = sorted(pending)
    for prefix, hint in UNSUPPORTED_HINTS.items():
        if any(k.startswith(prefix) for k in pending):
            report.notes.append(f"'{prefix}*' is not part of our model: {hint}")

    for src_key, our_key in report.renamed.items():
        tensor = source[src_key]
        if our_key not in target:
            report.unmatched_source.append(src_key)
            continue
        if tuple(tensor.shape) != tuple(target[our_key].shape):
            report.shape_mismatch.append(
                (src_key, our_key, tuple(tensor.shape), tuple(target[our_key].shape))
            )
            continue
        report.state_dict[our_key] = tensor.to(target[our_key].dtype)
    report.unmatched_source.sort()
    mismatched = {dst for _, dst, _, _ in report.shape_mismatch}
    # BatchNorm step counters (absent from checkpoints of old PyTorch versions) only matter
    # for momentum=None; fill them with the model's value instead of failing.
    counters = [
        k for k in target if k.endswith(".num_batches_tracked") and k not in report.state_dict
    ]
    if counters and len(counters) == sum(k.endswith(".num_batches_tracked") for k in target):
        report.notes.append(f"{len(counters)} BatchNorm step counters absent, kept at 0")
        for k in counters:
            report.state_dict[k] = target[k].clone()
    report.missing_target = sorted(
        k for k in target if k not in report.state_dict and k not in mismatched
    )
    return report


def _strip_wrapper_prefix(
    source: Mapping[str, torch.Tensor], report: ConversionReport
) -> dict[str, torch.Tensor]:
    """Drop a DataParallel-style prefix shared by every key ("module.")."""
    keys = list(source)
    for p in _WRAPPER_PREFIXES:
        if keys and all(k.startswith(p) for k in keys):
            report.notes.append(f"stripped the '{p}' prefix from every key")
            return {k[len(p) :]: v for k, v in source.items()}
    return dict(source)


def load_official_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a released `state_dict.bin` safely (`torch.load(weights_only=True)`).

    Accepts a plain {name: tensor} dict or one wrapped as {"model"|"state_dict": {...}}.
    """
    return read_state_dict(
        path,
        "official checkpoint",
        "Download the authors' 3DPW `state_dict.bin` (see the STDFormer project page) and pass "
        "its path.",
    )


def apply_conversion(
    model: torch.nn.Module, report: ConversionReport, allow_incomplete: bool = False
) -> None:
    """Load a conversion into `model` strictly; an incomplete one only when explicitly allowed.

    With `allow_incomplete`, keys the report lists as missing keep the model's current values
    (logged as a warning with the list); shape mismatches are never loaded.
    """
    if not report.complete and not allow_incomplete:
        raise BadFileError("official checkpoint does not match the model:\n" + report.summary())
    state = dict(model.state_dict())
    if not report.complete:
        log.warning("loading an incomplete conversion:\n%s", report.summary())
    state.update(report.state_dict)
    model.load_state_dict(state, strict=True)
