#!/usr/bin/env python3
"""ALoRA golden fixture: a PyTorch reference written from the paper (Liu et al., NAACL 2024, "ALoRA: Allocating
Low-Rank Adaptation for Fine-tuning Large Language Models"); no official code exists.

    python3 scripts/reference/alora_reference.py tests/fixtures/golden-alora

Reuses make_golden.py's seeded model, batches, schedule and parameter groups (same base model as the other golden
cases). Writes alora.safetensors + alora.json (format: docs/fixture-format.md, "ALoRA" section).

The method, as src/methods/alora implements it (README.md there says where we had to choose):
- Every adapted linear holds R = maxRank rank slots: y = W0 x + b0 + (alpha / r_init) B (g * (A x)), A [R, in]
  (Kaiming-uniform a = sqrt 5, as PEFT's LoRA), B [out, R] = 0, gates g in {0, 1} [R]; the first r_init slots
  start active, the rest dormant. Shapes never change: a gate is data.
- K1 epochs of super-network training, then up to N_A rounds, one every K2 epochs; a round runs after the
  optimizer step that completes its step count:
    AB-LoRA importance of every active rank r on a fixed probe batch (eval mode), S = -cross-entropy:
        IS(r) = S(M) - S(M without r) + S(only r)     ("only r": every other gate of the network off)
    prune the n_A lowest (ties: the earlier slot), at most all but one;
    modules that lost none this round receive the pruned count: an equal share each, the remainder one each to
    the receivers of higher mean importance (mean IS of their active ranks; a module without any ranks last);
    a receiver takes its lowest dormant (never used) slots; a share that does not fit goes to the next receiver
    with room, in the same order.
  A revived dormant slot starts as LoRA starts: B's column is exactly 0 (no gradient reached it, Adam moments 0)
  and A's row is its init shrunk by the decoupled weight decay of the steps it waited.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_golden as g  # noqa: E402

RECIPE = {**g.RECIPE, "totalSteps": 48, "epochs": 12}
PROBE_ROWS = 8
OPTIONS = {
    "rInit": 2,
    "maxRank": 4,
    "alpha": 8,
    "targetModules": g.MODULE_KINDS,
    "superEpochs": {"value": 3, "unit": "epochs"},
    "roundEvery": {"value": 2, "unit": "epochs"},
    "rounds": 4,
    "pruneCount": 4,
    "probeSize": PROBE_ROWS,
}
MIN_REL_MARGIN = 1e-2


class GatedLoraLinear(nn.Module):
    """y = W0 x + b0 + scale * B (gate * (A x)); A [R, in], B [out, R], gate [R] a buffer (0/1)."""

    def __init__(self, base, max_rank, r_init, scale, gen):
        super().__init__()
        self.base = base
        out_f, in_f = base.weight.shape
        bound = g.kaiming_uniform_bound(in_f, math.sqrt(5.0))
        self.lora_A = nn.Parameter(torch.empty(max_rank, in_f).uniform_(-bound, bound, generator=gen))
        self.lora_B = nn.Parameter(torch.zeros(out_f, max_rank))
        gate = torch.zeros(max_rank)
        gate[:r_init] = 1.0
        self.register_buffer("gate", gate)
        self.scale = scale

    def forward(self, x):
        down = F.linear(x, self.lora_A) * self.gate  # [..., R]
        return self.base(x) + F.linear(down, self.lora_B) * self.scale  # [..., out]


def span_steps(span, steps_per_epoch):
    return span["value"] if span["unit"] == "steps" else math.ceil(span["value"] * steps_per_epoch)


def round_steps(options, steps_per_epoch, total):
    """Step counts after which a round runs: K1, K1 + K2, ... (N_A of them, before the end)."""
    first = span_steps(options["superEpochs"], steps_per_epoch)
    every = max(1, span_steps(options["roundEvery"], steps_per_epoch))
    return [n for n in (first + k * every for k in range(options["rounds"])) if 0 < n < total]


def split(pruned, receivers, mean_importance, room):
    """Pruned count over the receivers (paths, in module order): equal shares, remainder by higher mean importance
    (ties: the earlier module), capped by room."""
    position = {m: i for i, m in enumerate(receivers)}
    order = sorted(receivers, key=lambda m: (-mean_importance[m], position[m]))
    if not order:
        return {}
    base, rem = divmod(pruned, len(order))
    give = {m: min(base + (1 if i < rem else 0), room[m]) for i, m in enumerate(order)}
    left = pruned - sum(give.values())
    while left > 0 and any(give[m] < room[m] for m in order):
        for m in order:
            if left > 0 and give[m] < room[m]:
                give[m] += 1
                left -= 1
    return give


class Allocator:
    def __init__(self, modules, options, probe, total, steps_per_epoch):
        self.modules = modules  # [(path, GatedLoraLinear)] in layer, kind order
        self.options = options
        self.probe = probe
        self.rounds = round_steps(options, steps_per_epoch, total)
        self.state = {p: ["active"] * options["rInit"] + ["dormant"] * (options["maxRank"] - options["rInit"]) for p, _ in modules}
        self.log = []
        self.min_margin = float("inf")

    def ranks(self):
        return {p: sum(1 for s in self.state[p] if s == "active") for p, _ in self.modules}

    def probe_loss(self, model):
        logits = model(**self.probe["inputs"]).logits
        return F.cross_entropy(logits, self.probe["labels"]).item()

    def after_step(self, model, step):
        if step + 1 not in self.rounds:
            return
        with torch.no_grad():
            self.run_round(model, step)

    def run_round(self, model, step):
        mods = dict(self.modules)
        saved = {p: m.gate.clone() for p, m in self.modules}
        active = [(p, k) for p, _ in self.modules for k, s in enumerate(self.state[p]) if s == "active"]
        loss_all = self.probe_loss(model)
        importance = {}
        without, only = {}, {}
        for p, k in active:
            mods[p].gate[k] = 0.0
            without[(p, k)] = self.probe_loss(model)
            mods[p].gate[k] = 1.0
        for p, m in self.modules:
            m.gate.zero_()
        for p, k in active:
            mods[p].gate[k] = 1.0
            only[(p, k)] = self.probe_loss(model)
            mods[p].gate[k] = 0.0
        for p, m in self.modules:
            m.gate.copy_(saved[p])
        for p, k in active:
            # S = -loss: IS = S(M) - S(M \ r) + S(M_r).
            importance[(p, k)] = -loss_all + without[(p, k)] - only[(p, k)]
        order = sorted(active, key=lambda pk: (importance[pk], self.slot_index(pk)))
        n_prune = self.options["pruneCount"] or len(self.modules)
        n_prune = min(n_prune, len(active) - 1)
        pruned = order[:n_prune]
        scale = max(importance.values()) - min(importance.values())  # IS share a large constant (S of "only r")
        if n_prune < len(order):
            self.min_margin = min(self.min_margin, (importance[order[n_prune]] - importance[order[n_prune - 1]]) / scale)
        mean_importance = {}
        for p, _ in self.modules:
            own = [importance[(p, k)] for k, s in enumerate(self.state[p]) if s == "active"]
            mean_importance[p] = sum(own) / len(own) if own else -math.inf
        lost = {p for p, _ in pruned}
        receivers = [p for p, _ in self.modules if p not in lost]
        for p, k in pruned:
            self.state[p][k] = "pruned"
            mods[p].gate[k] = 0.0
        room = {p: sum(1 for s in self.state[p] if s == "dormant") for p in receivers}
        give = split(n_prune, receivers, mean_importance, room)
        # The share must not hinge on a near-tie either: every adjacent pair of the receiver order whose swap
        # would change the shares must be well separated.
        order_r = sorted(receivers, key=lambda m: (-mean_importance[m], receivers.index(m)))
        for a, b in zip(order_r, order_r[1:]):
            swapped = dict(mean_importance)
            swapped[a], swapped[b] = mean_importance[b], mean_importance[a]
            if split(n_prune, receivers, swapped, room) != give:
                self.min_margin = min(self.min_margin, (mean_importance[a] - mean_importance[b]) / scale)
        added = {}
        for p in receivers:
            for _ in range(give.get(p, 0)):
                k = self.state[p].index("dormant")
                self.state[p][k] = "active"
                mods[p].gate[k] = 1.0
                added[p] = added.get(p, 0) + 1
        self.log.append(
            {
                "step": step,
                "importance": {f"{p}#{k}": importance[(p, k)] for p, k in active},
                "pruned": [f"{p}#{k}" for p, k in pruned],
                "added": added,
                "ranks": self.ranks(),
                "gates": {p: [1 if s == "active" else 0 for s in self.state[p]] for p, _ in self.modules},
                "threshold": importance[order[n_prune - 1]],
            }
        )

    def slot_index(self, pk):
        p, k = pk
        names = [q for q, _ in self.modules]
        return names.index(p) * self.options["maxRank"] + k


def make_probe():
    rng = np.random.default_rng(g.DATA_SEED + 77)
    seq = RECIPE["seqLen"]
    ids = np.zeros((PROBE_ROWS, seq), dtype=np.int32)
    types = np.zeros((PROBE_ROWS, seq), dtype=np.int32)
    mask = np.zeros((PROBE_ROWS, seq), dtype=np.int32)
    for r in range(PROBE_ROWS):
        length = seq if r == 0 else int(rng.integers(5, seq + 1))
        ids[r, :length] = rng.integers(5, g.VOCAB, size=length)
        ids[r, 0], ids[r, length - 1] = g.CLS_ID, g.SEP_ID
        mask[r, :length] = 1
    labels = rng.integers(0, 2, size=PROBE_ROWS).astype(np.int32)
    labels[0], labels[1] = 0, 1
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask, "labels": labels}


def run(state, seed, options=OPTIONS, recipe=RECIPE):
    model = g.build_model(state, 2, classifier_seed=0)
    gen = torch.Generator().manual_seed(seed)
    scale = options["alpha"] / options["rInit"]
    modules, owned = [], {}
    for layer in range(g.LAYERS):
        for kind in options["targetModules"]:
            path = g.module_path(layer, kind)
            wrapped = GatedLoraLinear(g.get_module(model, path), options["maxRank"], options["rInit"], scale, gen)
            g.set_module(model, path, wrapped)
            modules.append((path, wrapped))
            owned[f"{path}.lora_A"] = wrapped.lora_A
            owned[f"{path}.lora_B"] = wrapped.lora_B
    probe_np = make_probe()
    probe = {
        "inputs": {k: torch.from_numpy(probe_np[k].astype(np.int64)) for k in ("input_ids", "token_type_ids", "attention_mask")},
        "labels": torch.from_numpy(probe_np["labels"].astype(np.int64)),
    }
    batches = g.make_batches(False)
    total = recipe["totalSteps"]
    steps_per_epoch = math.ceil(recipe["numBatches"] * recipe["batchSize"] / recipe["batchSize"])
    allocator = Allocator(modules, options, probe, total, steps_per_epoch)
    init = {f"init.{n}": p.detach().clone() for n, p in owned.items()}

    named = dict(owned)
    named["classifier.weight"] = model.classifier.weight
    named["classifier.bias"] = model.classifier.bias
    groups, group_record = g.param_groups(owned, model, recipe)
    opt = torch.optim.AdamW(groups, lr=recipe["adapterLr"], betas=(recipe["adamBeta1"], recipe["adamBeta2"]), eps=recipe["adamEps"], foreach=False)
    base_lrs = [gr["lr"] for gr in opt.param_groups]
    tb = {k: torch.from_numpy(v.astype(np.int64)) for k, v in batches.items() if k != "labels"}
    labels = torch.from_numpy(batches["labels"]).long()
    tensors, losses, grad_norms, lrs, trainable = {}, [], [], [], []
    for step in range(total):
        factor = g.lr_factor(step, total, recipe["warmupRatio"])
        for gr, base_lr in zip(opt.param_groups, base_lrs):
            gr["lr"] = base_lr * factor
        b = step % recipe["numBatches"]
        logits = model(input_ids=tb["input_ids"][b], token_type_ids=tb["token_type_ids"][b], attention_mask=tb["attention_mask"][b]).logits
        loss = F.cross_entropy(logits, labels[b])
        loss.backward()
        if step == 0:
            tensors["step0.logits"] = logits.detach().clone()
            tensors["step0.loss"] = loss.detach().clone().reshape(())
            for n, p in named.items():
                tensors[f"step0.grad.{n}"] = p.grad.detach().clone()
        norm = torch.nn.utils.clip_grad_norm_(list(named.values()), recipe["maxGradNorm"])
        losses.append(loss.item())
        grad_norms.append(float(norm))
        lrs.append(opt.param_groups[0]["lr"])
        ranks = allocator.ranks()
        trainable.append(sum(ranks[p] * (m.lora_A.shape[1] + m.lora_B.shape[0]) for p, m in modules))
        opt.step()
        opt.zero_grad(set_to_none=True)
        allocator.after_step(model, step)
    for n, p in named.items():
        tensors[f"final.{n}"] = p.detach().clone()
    assert all(math.isfinite(x) for x in losses), "non-finite loss"
    probe_tensors = {f"probe.{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in probe_np.items()}
    info = {
        "method": "alora",
        "options": options,
        "seed": seed,
        "recipe": recipe,
        "paramGroups": group_record,
        "lr": lrs,
        "losses": losses,
        "gradNorm": grad_norms,
        "adapterTrainable": trainable,
        "roundSteps": [n - 1 for n in allocator.rounds],
        "rounds": allocator.log,
        "minRelMargin": allocator.min_margin,
    }
    return {**g.input_tensors(batches), **probe_tensors, **init, **tensors}, info


def acceptable(info):
    """Every decision well separated, and the allocation actually moves: some module ends above r_init, some below."""
    final = info["rounds"][-1]["ranks"] if info["rounds"] else {}
    r0 = info["options"]["rInit"]
    return info["minRelMargin"] > MIN_REL_MARGIN and any(v > r0 for v in final.values()) and any(v < r0 for v in final.values())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir")
    parser.add_argument("--tries", type=int, default=40)
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(args.outdir, exist_ok=True)
    state = g.base_state()
    best = None
    for seed in range(700, 700 + args.tries):
        tensors, info = run(state, seed)
        final = info["rounds"][-1]["ranks"] if info["rounds"] else {}
        g.log(f"seed {seed}: min rel margin {info['minRelMargin']:.3g}, final ranks {sorted(final.values())}")
        if acceptable(info):
            best = (tensors, info)
            break
    if best is None:
        raise SystemExit(f"no seed in {args.tries} tries gives well-separated ALoRA decisions")
    tensors, info = best
    g.write_case(args.outdir, "alora", tensors, info)
    g.log(f"wrote {args.outdir}/alora.*: rounds at {info['roundSteps']}, loss {info['losses'][0]:.4f} -> {info['losses'][-1]:.4f}")


if __name__ == "__main__":
    sys.exit(main())
