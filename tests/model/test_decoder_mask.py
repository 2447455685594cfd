"""the decoder's documented bool mask (True = blocked) must block, like the float form."""

from __future__ import annotations

import torch
from torch import nn

from stdformer.model.transformer import DecoderLayer


def test_bool_and_additive_self_masks_agree_with_torch_reference() -> None:
    torch.manual_seed(0)
    d, q, s = 16, 6, 5
    layer = DecoderLayer(d, 4, 32, 0.0).eval()
    ref = nn.TransformerDecoderLayer(d, 4, 32, 0.0, batch_first=True, norm_first=True).eval()
    renames = {"ffn.0": "linear1", "ffn.3": "linear2", "cross_attn": "multihead_attn"}
    state = {}
    for k, v in layer.state_dict().items():
        for a, b in renames.items():
            k = k.replace(a, b)
        state[k] = v
    ref.load_state_dict(state, strict=True)
    tgt, memory = torch.randn(2, q, d), torch.randn(2, s, d)
    blocked = torch.rand(q, q) > 0.5
    blocked.fill_diagonal_(False)  # every query may see itself
    additive = torch.zeros(q, q).masked_fill(blocked, float("-inf"))
    with torch.no_grad():
        expected = ref(tgt, memory, tgt_mask=blocked)
        torch.testing.assert_close(layer(tgt, memory, additive, None), expected)
        torch.testing.assert_close(layer(tgt, memory, blocked, None), expected)
