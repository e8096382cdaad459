#!/usr/bin/env python3
"""Golden fixture for the TypeScript AdaLoRA method (src/methods/adalora), from PEFT's own AdaLoRA.

    /work/venv/bin/python scripts/reference/adalora_golden.py tests/fixtures/golden

PEFT's AdaLoraConfig + get_peft_model on make_golden.py's seeded model, batches and recipe (CPU, float32,
deterministic, one thread). The loop is PEFT's documented one: forward with labels (PEFT adds the orthogonal
regulariser to outputs.loss), backward, clip, optimizer.step(), model.base_model.update_and_allocate(step),
zero_grad. Writes adalora.safetensors + adalora.json in the golden format (docs/fixture-format.md), replayed by
tests/engine/golden.test.ts, plus `allocations`: at every step where PEFT's RankAllocator set a rank pattern, the
budget, the threshold (k-th smallest triplet score), every module's rank and mask, and the smallest relative gap
between the threshold and the nearest kept score (seeds are searched so a float difference cannot flip a triplet).
"""

import argparse
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import (  # noqa: E402
    LAYERS,
    MODULE_SUFFIX,
    RECIPE,
    base_state,
    build_model,
    input_tensors,
    lr_factor,
    make_batches,
    module_path,
    param_groups,
    write_case,
)

KINDS = ["query", "value", "inter", "out"]
# 8 modules x init_r 6 = 48 triplets, target 24. Allocations every 5 steps in (10, 60], the final one at 60, then
# the pattern is re-applied after every step to 79.
OPTIONS = {"initR": 6, "targetR": 3, "loraAlpha": 8, "targetModules": KINDS, "orthRegWeight": 0.5, "tinit": 10, "tfinal": 20, "deltaT": 5, "beta1": 0.85, "beta2": 0.85}
MIN_GAP = 1e-3


def wrap_adalora(model, seed, total_step):
    from peft import AdaLoraConfig, get_peft_model

    alternatives = "|".join(MODULE_SUFFIX[k].replace(".", r"\.") for k in KINDS)
    target_regex = rf"bert\.encoder\.layer\.\d+\.({alternatives})"
    o = OPTIONS
    config = AdaLoraConfig(
        init_r=o["initR"], target_r=o["targetR"], lora_alpha=o["loraAlpha"], target_modules=target_regex, lora_dropout=0.0,
        orth_reg_weight=o["orthRegWeight"], tinit=o["tinit"], tfinal=o["tfinal"], deltaT=o["deltaT"], beta1=o["beta1"],
        beta2=o["beta2"], total_step=total_step,
    )
    torch.manual_seed(seed)
    peft_model = get_peft_model(model, config)
    owned = {}
    for name, p in peft_model.named_parameters():
        for m in "AEB":
            if name.endswith(f".lora_{m}.default"):
                stem = name[: -len(".default")]
                owned[stem[stem.index("bert.encoder.") :]] = p
    expected = {f"{module_path(l, k)}.lora_{m}" for l in range(LAYERS) for k in KINDS for m in "AEB"}
    assert set(owned) == expected, sorted(set(owned) ^ expected)
    for p in model.classifier.parameters():
        p.requires_grad_(True)
    return peft_model, owned, target_regex


def triplet_scores(allocator, paths):
    """The scores mask_to_budget ranks (same code path: _element_score, means, _combine_ipt), by module path."""
    out = {}
    for path in paths:
        n = lambda m: f"{path}.lora_{m}.default"  # noqa: E731
        a = torch.mean(allocator._element_score(n("A")), dim=1, keepdim=True)
        b = torch.mean(allocator._element_score(n("B")), dim=0, keepdim=False).view(-1, 1)
        out[path] = allocator._combine_ipt(allocator._element_score(n("E")), torch.cat([a, b], dim=1))
    return out


def run(state, seed):
    r = RECIPE
    total = r["totalSteps"]
    model = build_model(state, 2, classifier_seed=0)
    peft_model, owned, target_regex = wrap_adalora(model, seed, total)
    allocator = peft_model.base_model.rankallocator
    paths = sorted({n.rsplit(".", 1)[0] for n in owned}, key=lambda p: [int(t) if t.isdigit() else t for t in p.split(".")])
    init = {f"init.{n}": p.detach().clone() for n, p in owned.items()}
    batches = make_batches(False)
    named = dict(owned)
    named["classifier.weight"] = model.classifier.weight
    named["classifier.bias"] = model.classifier.bias
    groups, group_record = param_groups(owned, model, r)
    opt = torch.optim.AdamW(groups, lr=r["adapterLr"], betas=(r["adamBeta1"], r["adamBeta2"]), eps=r["adamEps"], foreach=False)
    base_lrs = [g["lr"] for g in opt.param_groups]
    tb = {k: torch.from_numpy(v.astype("int64")) for k, v in batches.items() if k != "labels"}
    labels = torch.from_numpy(batches["labels"]).long()
    tensors, losses, grad_norms, lrs, allocations = {}, [], [], [], []
    min_gap = math.inf
    last_pattern = None
    scores_before_reset = None
    for step in range(total):
        factor = lr_factor(step, total, r["warmupRatio"])
        for g, base_lr in zip(opt.param_groups, base_lrs):
            g["lr"] = base_lr * factor
        b = step % r["numBatches"]
        # AdaLoraModel.forward (PeftModel.forward without a task type would skip its regulariser).
        out = peft_model.base_model(input_ids=tb["input_ids"][b], token_type_ids=tb["token_type_ids"][b], attention_mask=tb["attention_mask"][b], labels=labels[b])
        loss = out.loss  # cross-entropy + orth_reg_weight * regulariser (PEFT's forward)
        loss.backward()
        if step == 0:
            tensors["step0.logits"] = out.logits.detach().clone()
            tensors["step0.loss"] = loss.detach().clone().reshape(())
            for n, p in named.items():
                tensors[f"step0.grad.{n}"] = p.grad.detach().clone()
            assert abs(loss.item() - F.cross_entropy(out.logits, labels[b]).item()) > 0, "regulariser missing"
        norm = torch.nn.utils.clip_grad_norm_(list(named.values()), r["maxGradNorm"])
        losses.append(loss.item())
        grad_norms.append(float(norm))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        budget, _ = allocator.budget_schedule(step)
        peft_model.base_model.update_and_allocate(step)
        pattern = peft_model.peft_config["default"].rank_pattern
        if pattern is not None and pattern is not last_pattern:
            last_pattern = pattern
            # The scores it ranked: after this step's update_ipt, or (the final allocation, after which PEFT resets
            # them) the previous step's.
            scores = triplet_scores(allocator, paths) if allocator.exp_avg_ipt else scores_before_reset
            every = torch.cat([scores[p].view(-1) for p in paths])
            k = allocator.init_bgt - (allocator.target_bgt if step == total - OPTIONS["tfinal"] else budget)
            threshold = torch.kthvalue(every, k)[0].item()
            above = every[every > threshold]
            gap = (above.min().item() - threshold) / abs(threshold) if above.numel() else math.inf
            min_gap = min(min_gap, gap)
            masks = {p: [bool(v) for v in pattern[f"{p}.lora_E.default"]] for p in paths}
            allocations.append({
                "step": step, "budget": allocator.init_bgt - k, "threshold": threshold, "relGap": gap,
                "ranks": {p: sum(m) for p, m in masks.items()}, "masks": masks,
                "importance": {p: float(scores[p].mean()) for p in paths},
            })
        if allocator.exp_avg_ipt:
            scores_before_reset = triplet_scores(allocator, paths)
        opt.zero_grad(set_to_none=True)
    for n, p in named.items():
        tensors[f"final.{n}"] = p.detach().clone()
    final_masks = allocations[-1]["masks"]
    for p in paths:
        tensors[f"final.{p}.lora_mask"] = torch.tensor([1.0 if v else 0.0 for v in final_masks[p]])
    assert all(math.isfinite(x) for x in losses), "non-finite loss"
    info = {
        "method": "adalora",
        "options": OPTIONS,
        "seed": seed,
        "peftTargetModules": target_regex,
        "recipe": RECIPE,
        "paramGroups": group_record,
        "lr": lrs,
        "losses": losses,
        "gradNorm": grad_norms,
        "allocations": allocations,
        "minRelGap": min_gap,
    }
    return {**input_tensors(batches), **init, **tensors}, info


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir")
    parser.add_argument("--tries", type=int, default=30)
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(args.outdir, exist_ok=True)
    state = base_state()
    best = None
    for seed in range(600, 600 + args.tries):
        tensors, info = run(state, seed)
        print(f"seed {seed}: min rel gap {info['minRelGap']:.3g}, ranks {[sum(a['ranks'].values()) for a in info['allocations']]}")
        if best is None or info["minRelGap"] > best[1]["minRelGap"]:
            best = (tensors, info)
        if info["minRelGap"] >= MIN_GAP:
            break
    tensors, info = best
    write_case(args.outdir, "adalora", tensors, info)
    a = info["allocations"]
    print(f"adalora seed {info['seed']} loss {info['losses'][0]:.4f} -> {info['losses'][-1]:.4f}  {len(a)} allocations "
          f"({a[0]['step']}..{a[-1]['step']}), final ranks {list(a[-1]['ranks'].values())}, min rel gap {info['minRelGap']:.3g}")


if __name__ == "__main__":
    sys.exit(main())
