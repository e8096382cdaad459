#!/usr/bin/env python3
"""Golden fixtures for the DeBERTa-v2/v3 encoder (src/engine/deberta), from transformers' DebertaV2 + PEFT.

    python3 scripts/reference/deberta_golden.py tests/fixtures/golden-deberta

make_golden.py's family cases (its FAMILIES["deberta-v2"]: a seeded DebertaV2ForSequenceClassification shaped like
deberta-v3-xsmall's config - relative attention with log position buckets, c2p + p2c, shared attention keys,
LayerNorm'd relative embeddings, no absolute positions, no token types, ContextPooler - but tiny), plus what only
DeBERTa has. Writes:
    model/config.json, model/model.safetensors      the seeded model
    aflora.*, lora.*                                make_golden.family_cases (80 steps each, with probe.*)
    variant/config.json, variant/model.safetensors  the other config branches (separate position keys, c2p
    variant.safetensors                             only, absolute positions + token types, no buckets, no
                                                    relative LayerNorm, embed_proj): inputs, logits, loss
    buckets.safetensors                             make_log_bucket_position for deberta-v3's sizes
Note: with share_att_key the relative embeddings go through query_proj / key_proj themselves, so an adapter on
those linears (PEFT's, the official AFLoRA code's) also changes the position projections; the fixtures pin that.
"""

import argparse
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from transformers.models.deberta_v2.modeling_deberta_v2 import build_relative_position

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_golden as mg  # noqa: E402  (the family table, recipe, training loop, AFLoRA module and freezer)

DEBERTA = mg.FAMILIES["deberta-v2"]


def variant_config():
    """The branches deberta-v3 does not take: separate pos_key_proj, c2p only, absolute positions and token
    types added to the input, no buckets (clamped raw distances), no relative LayerNorm, embedding_size != hidden,
    a tanh pooler. (pooler_hidden_size must equal hidden_size: the classifier reads hidden_size features.)"""
    config = DEBERTA.config(2)
    config.share_att_key = False
    config.pos_att_type = ["c2p"]
    config.position_biased_input = True
    config.type_vocab_size = 2
    config.position_buckets = -1
    config.max_relative_positions = 12
    config.norm_rel_ebd = "none"
    config.embedding_size = 24
    config.pooler_hidden_act = "tanh"
    return config


def variant_case():
    config = variant_config()
    state = DEBERTA.seeded_state(config, DEBERTA.model_seed + 10)
    model = DEBERTA.model_class(config)
    model.load_state_dict(state, strict=False)
    model.eval()
    batches = mg.make_batches(False, DEBERTA)
    b = 1
    ids = torch.from_numpy(batches["input_ids"][b].astype(np.int64))
    mask = torch.from_numpy(batches["attention_mask"][b].astype(np.int64))
    types = torch.from_numpy(batches["token_type_ids"][b].astype(np.int64))
    labels = torch.from_numpy(batches["labels"][b]).long()
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
        loss = torch.nn.functional.cross_entropy(logits, labels)
    tensors = {
        "input.input_ids": ids.to(torch.int32),
        "input.attention_mask": mask.to(torch.int32),
        "input.token_type_ids": types.to(torch.int32),
        "input.labels": labels.to(torch.int32),
        "logits": logits,
        "loss": loss.reshape(()),
    }
    return config, state, tensors


def bucket_tensors():
    """Relative position -> bucket for every distance a model sees: deberta-v3 (256 buckets over 512 positions)
    and the main fixture's (8 over 64). int32 [2L - 1], index d + L - 1 holds the bucket of distance d."""
    out = {}
    for buckets, positions in [(256, 512), (8, 64)]:
        layer = torch.zeros(1, positions, 1)
        rel = build_relative_position(layer, layer, bucket_size=buckets, max_position=positions)[0]  # [L, L]
        column = rel[:, 0]  # distances 0 .. L-1 (query i, key 0)
        row = rel[0, :]  # distances 0 .. -(L-1)
        out[f"buckets.{buckets}.{positions}"] = torch.cat([row.flip(0)[:-1], column]).to(torch.int32).contiguous()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir")
    parser.add_argument("--tries", type=int, default=60, help="adapter seeds to try for the AFLoRA case")
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(args.outdir, exist_ok=True)

    mg.family_cases(args.outdir, DEBERTA, args.tries)

    config, vstate, vtensors = variant_case()
    mg.write_model_dir(os.path.join(args.outdir, "variant"), config, vstate, DEBERTA)
    save_file({k: v.contiguous() for k, v in vtensors.items()}, os.path.join(args.outdir, "variant.safetensors"))
    save_file(bucket_tensors(), os.path.join(args.outdir, "buckets.safetensors"))
    mg.log(f"variant logits {vtensors['logits'].tolist()}")


if __name__ == "__main__":
    sys.exit(main())
