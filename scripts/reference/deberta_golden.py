#!/usr/bin/env python3
"""Golden fixtures for the DeBERTa-v2/v3 encoder (src/engine/deberta.ts), from transformers' DebertaV2 + PEFT.

    python3 scripts/reference/deberta_golden.py tests/fixtures/golden-deberta

Same format and recipe as make_golden.py (docs/fixture-format.md), whose training loop, AFLoRA module, freezer
and batches this script reuses: the model is a seeded DebertaV2ForSequenceClassification shaped like
deberta-v3-xsmall's config (relative attention with log position buckets, c2p + p2c, shared attention keys,
LayerNorm'd relative embeddings, no absolute positions, no token types, ContextPooler) but tiny. Writes:
    model/config.json, model/model.safetensors      the seeded model
    aflora.*                                        AFLoRA defaults (all six linears, FFN A/B trainable), 80 steps
    lora.*                                          PEFT LoRA r 8 / alpha 16 on all six linears, 80 steps
    variant/config.json, variant/model.safetensors  the other config branches (separate position keys, c2p
    variant.safetensors                             only, absolute positions + token types, no buckets, no
                                                    relative LayerNorm, embed_proj): inputs, logits, loss
    buckets.safetensors                             make_log_bucket_position for deberta-v3's sizes
The aflora / lora case files also hold `probe.*`: one forward + backward at adapter values where no gradient is 0
(lambda_b, lora_B nudged off 0), since at step 0 the A/B gradients vanish by construction.
Note: with share_att_key the relative embeddings go through query_proj / key_proj themselves, so an adapter on
those linears (PEFT's, the official AFLoRA code's) also changes the position projections; the fixtures pin that.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import DebertaV2Config, DebertaV2ForSequenceClassification
from transformers.models.deberta_v2.modeling_deberta_v2 import build_relative_position

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_golden as mg  # noqa: E402  (shared recipe, training loop, AFLoRA module and freezer)

MODEL_SEED = 2345
LAYERS = mg.LAYERS  # make_golden's loops run over its LAYERS; the models here have as many

DEBERTA_SUFFIX = {
    "query": "attention.self.query_proj",
    "key": "attention.self.key_proj",
    "value": "attention.self.value_proj",
    "attn_out": "attention.output.dense",
    "inter": "intermediate.dense",
    "out": "output.dense",
}


def deberta_module_path(layer, kind):
    return f"deberta.encoder.layer.{layer}.{DEBERTA_SUFFIX[kind]}"


def main_config(num_labels):
    """deberta-v3-xsmall's config.json with tiny sizes (position_buckets 8 over 16 tokens: log buckets used)."""
    return DebertaV2Config(
        vocab_size=mg.VOCAB,
        hidden_size=32,
        num_hidden_layers=LAYERS,
        num_attention_heads=4,
        intermediate_size=64,
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=64,
        type_vocab_size=0,
        initializer_range=0.1,  # larger than pretrained models use: rows and logits differ visibly
        layer_norm_eps=1e-7,
        relative_attention=True,
        max_relative_positions=-1,
        position_buckets=8,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        pos_att_type=["p2c", "c2p"],
        position_biased_input=False,
        pad_token_id=mg.PAD_ID,
        pooler_hidden_size=32,
        pooler_dropout=0,
        pooler_hidden_act="gelu",
        num_labels=num_labels,
    )


def variant_config():
    """The branches deberta-v3 does not take: separate pos_key_proj, c2p only, absolute positions and token
    types added to the input, no buckets (clamped raw distances), no relative LayerNorm, embedding_size != hidden,
    a tanh pooler. (pooler_hidden_size must equal hidden_size: the classifier reads hidden_size features.)"""
    config = main_config(2)
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


def seeded_state(config, seed):
    torch.manual_seed(seed)
    model = DebertaV2ForSequenceClassification(config)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(torch.randn(p.shape, generator=gen) * 0.02)
            elif "rel_embeddings" in name:
                p.normal_(0.0, 0.5, generator=gen)  # large enough that the position terms move the logits
    return {n: p.detach().clone().contiguous() for n, p in model.named_parameters()}


def build_model(state, num_labels, classifier_seed):
    assert num_labels == 2, "the DeBERTa fixtures are classification only"
    model = DebertaV2ForSequenceClassification(main_config(num_labels))
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all("position_ids" in m for m in missing), (missing, unexpected)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.classifier.parameters():
        p.requires_grad_(True)
    return model


# make_golden's cases build their model and name their modules through these.
mg.module_path = deberta_module_path
mg.build_model = build_model


def wrap_peft_lora(model, r, alpha, kinds, seed):
    from peft import LoraConfig, get_peft_model

    alternatives = "|".join(DEBERTA_SUFFIX[k].replace(".", r"\.") for k in kinds)
    target_regex = rf"deberta\.encoder\.layer\.\d+\.({alternatives})"
    torch.manual_seed(seed)
    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=target_regex, lora_dropout=0.0, bias="none")
    get_peft_model(model, config)
    owned = {}
    for name, p in model.named_parameters():
        if ".lora_A." in name or ".lora_B." in name:
            stem = name[: -len(".default.weight")]
            owned[stem[stem.index("deberta.encoder.") :]] = p
    expected = {f"{deberta_module_path(l, k)}.lora_{m}" for l in range(LAYERS) for k in kinds for m in "AB"}
    assert set(owned) == expected, sorted(set(owned) ^ expected)
    for p in model.classifier.parameters():
        p.requires_grad_(True)
    return owned, target_regex


def lora_case(state, seed):
    r, alpha, kinds = 8, 16, list(DEBERTA_SUFFIX)
    model = build_model(state, 2, classifier_seed=0)
    owned, target_regex = wrap_peft_lora(model, r, alpha, kinds, seed)
    init = {f"init.{n}": p.detach().clone() for n, p in owned.items()}
    batches = mg.make_batches(False)
    recipe = {**mg.RECIPE, "adapterLr": 2e-3, "classifierLr": 8e-3}
    probe = probe_tensors(model, owned, list(owned), batches, seed)
    tensors, log_data = mg.train(model, owned, list(owned), batches, False, r=recipe)
    info = {
        "method": "lora",
        "options": {"r": r, "alpha": alpha, "targetModules": kinds},
        "seed": seed,
        "peftTargetModules": target_regex,
        "recipe": recipe,
        **log_data,
    }
    return {**mg.input_tensors(batches), **init, **probe, **tensors}, info


def probe_tensors(model, owned, trainable, batches, seed):
    """probe.init.<name> (every adapter variable, off its zero init), probe.logits, probe.loss, probe.grad.<name>
    for the trainable ones and the classifier, on batch 0. Restores the variables afterwards."""
    gen = torch.Generator().manual_seed(seed + 99)
    saved = {n: p.detach().clone() for n, p in owned.items()}
    out = {}
    with torch.no_grad():
        for n, p in owned.items():
            if n.endswith(".lambda_b") or n.endswith(".lora_B"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
            out[f"probe.init.{n}"] = p.detach().clone()
    for n, p in owned.items():
        p.requires_grad_(n in trainable)
    named = {n: owned[n] for n in trainable}
    named["classifier.weight"] = model.classifier.weight
    named["classifier.bias"] = model.classifier.bias
    ids = torch.from_numpy(batches["input_ids"][0].astype(np.int64))
    mask = torch.from_numpy(batches["attention_mask"][0].astype(np.int64))
    types = torch.from_numpy(batches["token_type_ids"][0].astype(np.int64))
    logits = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(batches["labels"][0]).long())
    loss.backward()
    out["probe.logits"] = logits.detach().clone()
    out["probe.loss"] = loss.detach().clone().reshape(())
    for n, p in named.items():
        assert p.grad is not None and p.grad.abs().max() > 0, f"probe: no gradient for {n}"
        out[f"probe.grad.{n}"] = p.grad.detach().clone()
        p.grad = None
    with torch.no_grad():
        for n, p in owned.items():
            p.copy_(saved[n])
    return out


def variant_case():
    config = variant_config()
    state = seeded_state(config, MODEL_SEED + 10)
    model = DebertaV2ForSequenceClassification(config)
    model.load_state_dict(state, strict=False)
    model.eval()
    batches = mg.make_batches(False)
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


def write_model_dir(path, config, state):
    os.makedirs(path, exist_ok=True)
    config.architectures = ["DebertaV2ForSequenceClassification"]
    as_json = json.loads(config.to_json_string())
    as_json.setdefault("id2label", {"0": "LABEL_0", "1": "LABEL_1"})
    as_json.setdefault("label2id", {"LABEL_0": 0, "LABEL_1": 1})
    with open(os.path.join(path, "config.json"), "w", encoding="utf-8") as f:
        json.dump(as_json, f, indent=2, sort_keys=True)
        f.write("\n")
    save_file({k: v.contiguous() for k, v in state.items()}, os.path.join(path, "model.safetensors"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir")
    parser.add_argument("--tries", type=int, default=60, help="adapter seeds to try for the AFLoRA case")
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(args.outdir, exist_ok=True)

    state = seeded_state(main_config(2), MODEL_SEED)
    write_model_dir(os.path.join(args.outdir, "model"), main_config(2), state)

    mg.log("aflora:")
    tensors, info, checks = mg.search_aflora(state, {}, False, 100, args.tries)
    # The probe at the accepted seed's init: rebuild that run's model and adapters.
    model = build_model(state, 2, 0)
    owned = mg.wrap_scaled(model, mg.MODULE_KINDS, info["options"]["rank"], a=0.0, seed=info["seed"])
    for n, p in owned.items():
        assert torch.equal(p, tensors[f"init.{n}"]), n
    vectors = [n for n in owned if n.endswith(".lambda_d") or n.endswith(".lambda_b")]
    ffn_ab = [f"{deberta_module_path(l, k)}.lora_{m}" for l in range(LAYERS) for k in mg.FFN_KINDS for m in "AB"]
    tensors.update(probe_tensors(model, owned, ffn_ab + vectors, mg.make_batches(False), info["seed"]))
    mg.write_case(args.outdir, "aflora", tensors, info)
    mg.summarize("aflora", info, checks)

    mg.log("lora:")
    tensors, info = lora_case(state, 400)
    mg.write_case(args.outdir, "lora", tensors, info)
    mg.summarize("lora", info)

    config, vstate, vtensors = variant_case()
    write_model_dir(os.path.join(args.outdir, "variant"), config, vstate)
    save_file({k: v.contiguous() for k, v in vtensors.items()}, os.path.join(args.outdir, "variant.safetensors"))
    save_file(bucket_tensors(), os.path.join(args.outdir, "buckets.safetensors"))
    mg.log(f"variant logits {vtensors['logits'].tolist()}")


if __name__ == "__main__":
    sys.exit(main())
