#!/usr/bin/env python3
"""Golden forward passes of each non-BERT family for tests/engine/families.test.ts.

Usage: python3 scripts/reference/family_golden.py tests/fixtures/families

For DistilBERT, RoBERTa and ELECTRA (embedding_size != hidden_size, so embeddings_project is exercised) builds a
tiny seeded random *ForSequenceClassification with transformers (eval mode, CPU, float32), runs it on padded
random ids (a pair with token types where the family has them) and writes <family>.safetensors (the state dict
as transformers names it) and <family>.json (config.json, inputs, logits).
"""

import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import (
    DistilBertConfig,
    DistilBertForSequenceClassification,
    ElectraConfig,
    ElectraForSequenceClassification,
    RobertaConfig,
    RobertaForSequenceClassification,
)

BATCH, SEQ, VOCAB, LABELS = 3, 10, 50, 3
LENGTHS = [10, 7, 4]


def configs():
    common = dict(vocab_size=VOCAB, num_labels=LABELS, max_position_embeddings=24)
    bert_like = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, **common)
    return {
        "distilbert": (DistilBertConfig(dim=16, n_layers=2, n_heads=2, hidden_dim=32, activation="gelu", **common), DistilBertForSequenceClassification),
        "roberta": (RobertaConfig(pad_token_id=1, bos_token_id=0, eos_token_id=2, type_vocab_size=1, layer_norm_eps=1e-5, **bert_like), RobertaForSequenceClassification),
        "electra": (ElectraConfig(embedding_size=8, **bert_like), ElectraForSequenceClassification),
    }


def main(outdir):
    os.makedirs(outdir, exist_ok=True)
    for family, (config, cls) in configs().items():
        torch.manual_seed(1234)
        model = cls(config).eval()
        with torch.no_grad():
            # Random non-zero biases and LayerNorms too: every parameter path shows in the logits.
            for name, p in model.named_parameters():
                if "LayerNorm" in name or "layer_norm" in name:
                    p.copy_(1 + 0.1 * torch.randn_like(p) if name.endswith("weight") else 0.1 * torch.randn_like(p))
                else:
                    p.copy_(0.2 * torch.randn_like(p))
        pad = config.pad_token_id
        gen = torch.Generator().manual_seed(7)
        ids = torch.randint(3, VOCAB, (BATCH, SEQ), generator=gen)
        mask = torch.zeros(BATCH, SEQ, dtype=torch.long)
        for row, n in enumerate(LENGTHS):
            mask[row, :n] = 1
        ids[mask == 0] = pad
        types = torch.zeros(BATCH, SEQ, dtype=torch.long)
        kwargs = dict(input_ids=ids, attention_mask=mask)
        if family == "electra":
            types[:, 5:] = 1
            types[mask == 0] = 0
            kwargs["token_type_ids"] = types
        with torch.no_grad():
            logits = model(**kwargs).logits
        state = {k: v.contiguous() for k, v in model.state_dict().items() if v.dtype == torch.float32}
        save_file(state, os.path.join(outdir, f"{family}.safetensors"))
        with open(os.path.join(outdir, f"{family}.json"), "w") as f:
            json.dump(
                {
                    "config": config.to_dict(),
                    "input_ids": ids.tolist(),
                    "token_type_ids": types.tolist(),
                    "attention_mask": mask.tolist(),
                    "logits": logits.tolist(),
                },
                f,
            )
        print(family, logits.shape, float(logits.abs().max()))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/families")
