#!/usr/bin/env python3
"""One-off check: our IncreLoRA reference (increlora_reference.py) against the official code, run outside the repo.

    git -C <IncreLoRA clone> archive HEAD loralib NLU/src/transformers | tar -x -C /tmp/increlora-official
    /work/venv/bin/python scripts/reference/check_increlora_official.py /tmp/increlora-official

Runs every case of increlora_golden.py twice on the same model, batches and initial values: once with our
reference, once with the official loralib SVDLinear + RankAllocator (imported unmodified; `ipdb` stubbed), the
official Trainer's compute_svd_orth_regu, its training-step order (backward, clip_grad_norm_ over
model.parameters(), update_and_increase, optimizer.step, scheduler.step, zero_grad) and its Multi_LambdaLR
(taken from NLU/src/transformers/optimization.py by source). The optimizer is torch.optim.AdamW in both runs (the
official trainer uses transformers' own AdamW, see src/methods/increlora/README.md): this checks the method, not
the optimizer. The official code draws each new reserve block from normal(0, 0.02) itself; right after
update_and_increase (before the block is ever used) the check copies the reference's pre-drawn values in.
Prints, per case: the largest loss difference, whether every round's rank pattern and threshold agree, and the
largest difference of the final adapter values.
"""

import ast
import math
import os
import sys
import types
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import LambdaLR

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import increlora_golden as golden  # noqa: E402
from increlora_reference import block_sizes, growth_rounds_bound, incre_rank_num  # noqa: E402
from make_golden import LAYERS, MODULE_KINDS, base_state, build_model, get_module, lr_factor, make_batches, module_path, set_module  # noqa: E402


class TruncatingLambdaLR(LambdaLR):
    """LambdaLR as torch 1.x ran it for the official trainer without multi_lr: groups added later keep their lr
    (torch >= 2.4 zips strictly and raises)."""

    def get_lr(self):
        scheduled = super().get_lr()
        return scheduled + [g["lr"] for g in self.optimizer.param_groups[len(scheduled) :]]


class OutOfPlaceAdd(ast.NodeTransformer):
    def visit_AugAssign(self, node):
        if isinstance(node.op, ast.Add) and isinstance(node.target, ast.Name):
            load = ast.Name(id=node.target.id, ctx=ast.Load())
            return ast.copy_location(ast.Assign(targets=[node.target], value=ast.BinOp(load, ast.Add(), node.value)), node)
        return node


def load_official(root):
    sys.modules["ipdb"] = types.SimpleNamespace(set_trace=lambda: None)
    sys.path.insert(0, os.path.join(root, "loralib"))
    import loralib  # noqa: F401  (the official package)

    # Multi_LambdaLR + get_lr_lambda and Trainer.compute_svd_orth_regu, by source (their modules import the whole
    # forked transformers).
    class LambdaLRWithVerbose(LambdaLR):  # torch >= 2.7 dropped LambdaLR's `verbose`, which Multi_LambdaLR passes
        def __init__(self, optimizer, lr_lambda, last_epoch=-1, verbose=False):
            super().__init__(optimizer, lr_lambda, last_epoch)

    ns = {"LambdaLR": LambdaLRWithVerbose, "warnings": warnings, "ipdb": sys.modules["ipdb"], "torch": torch, "lora": loralib}
    for rel, names in (
        ("NLU/src/transformers/optimization.py", {"Multi_LambdaLR", "get_lr_lambda"}),
        ("NLU/src/transformers/trainer.py", {"compute_svd_orth_regu"}),
    ):
        tree = ast.parse(open(os.path.join(root, rel), encoding="utf-8").read())
        nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name in names]
        assert {n.name for n in nodes} == names, f"{rel}: found {[n.name for n in nodes]}"
        for n in nodes:
            if n.name == "compute_svd_orth_regu":
                # `regu_loss += ...` modifies a norm's output in place, which torch >= 2 refuses to differentiate
                # (torch 1.x did not save it): the same sum, out of place.
                n = ast.fix_missing_locations(OutOfPlaceAdd().visit(n))
            exec(compile(ast.Module(body=[n], type_ignores=[]), rel, "exec"), ns)
    return loralib, ns


def run_official(loralib, ns, state, options, seed, recipe):
    total = recipe["totalSteps"]
    model = build_model(state, 2, classifier_seed=0)
    paths = [module_path(l, k) for l in range(LAYERS) for k in MODULE_KINDS if k in options["targetModules"]]
    sizes = block_sizes(options, growth_rounds_bound(options, len(paths), total))
    blocks = {}
    modules = []
    for mi, path in enumerate(paths):
        base = get_module(model, path)
        out_f, in_f = base.weight.shape
        m = loralib.SVDLinear(in_f, out_f, r=options["loraR"], lora_alpha=options["loraAlpha"])
        with torch.no_grad():
            m.weight.copy_(base.weight)
            m.bias.copy_(base.bias)
        m.bias.requires_grad_(False)  # run_glue.py freezes every backbone parameter whose name lacks "lora"
        blocks[path] = []
        for b, n in enumerate(sizes):  # the same draws as increlora_golden.run_case
            gen = torch.Generator().manual_seed(seed * 100_003 + mi * 1009 + b)
            blocks[path].append((torch.empty(n, in_f).normal_(0.0, 0.02, generator=gen), torch.empty(out_f, n).normal_(0.0, 0.02, generator=gen)))
        with torch.no_grad():
            m.lora_A[0].copy_(blocks[path][0][0])
            m.lora_B[0].copy_(blocks[path][0][1])
        set_module(model, path, m)
        modules.append((path, m))
    model.train()

    run_params = [p for _, m in modules for p in (m.lora_A[0], m.lora_B[0], m.lora_E[0])]
    groups = [
        {"params": run_params, "lr": recipe["adapterLr"], "weight_decay": recipe["weightDecay"]},
        {"params": [model.classifier.weight], "lr": recipe["classifierLr"], "weight_decay": recipe["classifierWeightDecay"]},
        {"params": [model.classifier.bias], "lr": recipe["classifierLr"], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=recipe["adapterLr"], betas=(recipe["adamBeta1"], recipe["adamBeta2"]), eps=recipe["adamEps"], foreach=False)
    warmup = math.ceil(recipe["warmupRatio"] * total)
    if options["multiLr"]:
        sched = ns["Multi_LambdaLR"](opt, ns["get_lr_lambda"], warmup, total)
    else:
        sched = TruncatingLambdaLR(opt, lambda s: lr_factor(s, total, recipe["warmupRatio"]))
    alloc = loralib.RankAllocator(
        model, lora_r=options["loraR"], target_rank=options["targetRank"], init_warmup=options["initWarmup"],
        incre_interval=options["increInterval"], top_h=options["topH"], advance_learn=options["advanceLearn"],
        beta1=options["beta1"], beta2=options["beta2"], target_total_rank=options["targetTotalRank"],
        weight_decay=recipe["weightDecay"], incre_rank_num=incre_rank_num(options),
    )
    alloc.set_total_step(total)
    # The official named_modules order is the model's; ours is layer-major in MODULE_KINDS order: the same.
    assert [n for n, mod in model.named_modules() if isinstance(mod, loralib.SVDLinear)] == paths

    batches = make_batches(False)
    tb = {k: torch.from_numpy(v.astype(np.int64)) for k, v in batches.items() if k != "labels"}
    labels = torch.from_numpy(batches["labels"]).long()
    losses, rounds = [], []
    fake_trainer = types.SimpleNamespace()
    for step in range(total):
        b = step % recipe["numBatches"]
        logits = model(input_ids=tb["input_ids"][b], token_type_ids=tb["token_type_ids"][b], attention_mask=tb["attention_mask"][b]).logits
        loss = F.cross_entropy(logits, labels[b])
        if options["regOrthCoef"] > 0:
            loss = loss + options["regOrthCoef"] * ns["compute_svd_orth_regu"](fake_trainer, model)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe["maxGradNorm"])
        before = {p: len(m.lora_A) for p, m in modules}
        total_before = alloc.total_rank
        _, threshold = alloc.update_and_increase(model, step, opt)
        with torch.no_grad():  # the reference's pre-drawn values for the blocks the official code just created
            for path, m in modules:
                add_r = incre_rank_num(options)
                for blk in range(1 + (before[path] - 1) // add_r, 1 + (len(m.lora_A) - 1) // add_r):
                    a, bb = blocks[path][blk]
                    for j in range(add_r):
                        m.lora_A[1 + (blk - 1) * add_r + j].copy_(a[j : j + 1])
                        m.lora_B[1 + (blk - 1) * add_r + j].copy_(bb[:, j : j + 1])
        if threshold is not None:
            rounds.append({"step": step, "threshold": threshold, "ranks": {p: int(m.ranknum.item()) for p, m in modules}, "totalRank": alloc.total_rank, "before": total_before})
        losses.append(loss.item())
        opt.step()
        sched.step()
        model.zero_grad()
    final = {}
    for path, m in modules:
        add_r = incre_rank_num(options)
        a = torch.cat(list(m.lora_A), 0)
        e = torch.cat(list(m.lora_E), 0)[:, 0]
        bb = torch.cat(list(m.lora_B), 1)
        final[path] = (a.detach(), e.detach(), bb.detach())
    final["classifier.weight"] = model.classifier.weight.detach()
    return losses, rounds, final


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    float64 = "--float64" in sys.argv  # float32 rounding differences (summation order) grow over 60 Adam steps
    root = args[0] if args else "/tmp/increlora-official"
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    loralib, ns = load_official(root)
    state = base_state()
    if float64:
        torch.set_default_dtype(torch.float64)
        state = {k: v.double() for k, v in state.items()}
    cases = [
        ("increlora", {**golden.DEFAULTS}, 10),
        ("increlora_overshoot", {**golden.DEFAULTS, "increRankNum": 2, "topH": 4, "targetTotalRank": 31}, 20),
        ("increlora_plain", {**golden.DEFAULTS, "advanceLearn": False, "multiLr": False, "topH": 3}, 30),
    ]
    ok = True
    for name, options, seed in cases:
        recipe = golden.CASE_RECIPE
        tensors, info = golden.run_case(state, options, seed, recipe)
        losses, rounds, final = run_official(loralib, ns, state, options, seed, recipe)
        loss_diff = max(abs(x - y) for x, y in zip(losses, info["losses"]))
        same_ranks = [r["ranks"] for r in rounds] == [r["ranks"] for r in info["rounds"]]
        thr_diff = max(abs(r["threshold"] - q["threshold"]) / max(abs(q["threshold"]), 1e-30) for r, q in zip(rounds, info["rounds"])) if rounds else 0.0
        worst = 0.0
        for path in final:
            if path == "classifier.weight":
                worst = max(worst, float((final[path] - tensors["final.classifier.weight"]).abs().max()))
                continue
            a, e, b = final[path]
            created = [k for k in range(len(info["blockSizes"])) if f"final.{path}.lora_A.{k}" in tensors]
            ref_a = torch.cat([tensors[f"final.{path}.lora_A.{k}"] for k in created], 0)[: a.shape[0]]
            ref_e = torch.cat([tensors[f"final.{path}.lora_E.{k}"] for k in created], 0)[: e.shape[0]]
            ref_b = torch.cat([tensors[f"final.{path}.lora_B.{k}"] for k in created], 1)[:, : b.shape[1]]
            worst = max(worst, float((a - ref_a).abs().max()), float((e - ref_e).abs().max()), float((b - ref_b).abs().max()))
        tol = 1e-9 if float64 else 2e-3
        good = loss_diff < tol and same_ranks and len(rounds) == len(info["rounds"]) and thr_diff < tol and worst < tol
        ok &= good
        print(
            f"{name:20s} steps {len(losses)}  rounds {len(rounds)} (ref {len(info['rounds'])})  rank patterns identical: {same_ranks}  "
            f"max |loss diff| {loss_diff:.2e}  max rel threshold diff {thr_diff:.2e}  max |final diff| {worst:.2e}  -> {'OK' if good else 'MISMATCH'}"
        )
        print("   official rounds:", [(r["step"], r["before"], r["totalRank"]) for r in rounds])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
