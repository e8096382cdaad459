#!/usr/bin/env python3
"""IncreLoRA in PyTorch, written here from the official code (FeiyuZhang98/IncreLoRA: loralib/loralib/increlora.py
SVDLinear + RankAllocator, NLU/src/transformers/trainer.py training_step / compute_svd_orth_regu, and
NLU/src/transformers/optimization.py Multi_LambdaLR), in its order of operations. Used by increlora_golden.py
(fixtures for the TypeScript method) and check_increlora_official.py (the one-off check against the official code).

One step t (0-based, the official trainer's global_step):
  forward: y = W0 x + b0 + x ΔW^T, ΔW = cat(B) @ (cat(A) * cat(E)) * alpha / (ranknum + 1e-5), where the
           concatenation holds every component created so far (active ones and the reserve); loss += coef * orth.
  backward: a hook on ΔW records score = Σ |ΔW| |∂L/∂ΔW| / sqrt(out * in) (the task loss only: the regulariser
           does not go through ΔW).
  clip_grad_norm_ on every parameter with a gradient.
  update_and_increase(t): t == 0: a reserve of add_r components per module (A, B ~ N(0, 0.02), E = 1e-5 frozen;
           advance learning: A, B trainable in a new parameter group). While total < target: Ī, Ū EMAs of the
           score (β1, β2), and when t > init_warmup and t % incre_interval == 0 a growth round: threshold =
           the k-th largest Ī·Ū, k = min(top_h, target - total); every module with score >= threshold (ties
           included) gets ranknum += add_r, its reserve E trainable, and a new reserve; the activated E and the
           new reserve A, B form ONE new parameter group. total == target (exactly) after a round: the reserve E
           of every module is set to 0 and the hooks removed.
  optimizer.step() (new parameters have no .grad yet: untouched this step), then the scheduler: a group added
           at step t_g runs its own linear warm-up / decay: lr factor at step s = lambda'(s - t_g - 1) with the
           run's warm-up steps and T - t_g - 1 total steps (Multi_LambdaLR); without multi_lr it keeps the base lr.

Components are created in blocks of add_r (the official code makes add_r parameters of shape [1, in] at once; they
always share their group, step count and lr, so one [add_r, in] tensor behaves identically). Block 0 is the initial
lora_r components. Initial values of every block are drawn up front (normal(0, 0.02), seeded per module and block)
so the TypeScript side can take them as `initial`; the official code draws the same distribution when it creates
the block.
"""

import math

import torch
import torch.nn as nn

RESERVE_E = 1e-5
# run_glue.py's incre_rank_num default: rank_dic[target_rank] (a KeyError for any other average target rank).
RANK_DIC = {2: 1, 4: 2, 6: 3, 8: 4}


def incre_rank_num(options):
    if options.get("increRankNum") is not None:
        return options["increRankNum"]
    return RANK_DIC[options["targetRank"]]


def growth_rounds_bound(options, num_modules, total_steps):
    """Most growth rounds a run can have: the steps that qualify, and the rounds to reach the target."""
    add_r = incre_rank_num(options)
    target = target_total_rank(options, num_modules)
    remaining = target - options["loraR"] * num_modules
    per_round = min(options["topH"], num_modules) * add_r
    to_target = max(0, math.ceil(remaining / per_round))
    steps = sum(
        1 for t in range(total_steps) if t > options["initWarmup"] and t % options["increInterval"] == 0
    )
    return min(to_target, steps)


def target_total_rank(options, num_modules):
    if options.get("targetTotalRank") is not None:
        return options["targetTotalRank"]
    return options["targetRank"] * num_modules


def block_sizes(options, rounds):
    """Rows of each block: [lora_r, add_r, ..., add_r] (initial, one per possible round, the last reserve)."""
    add_r = incre_rank_num(options)
    return [options["loraR"]] + [add_r] * (rounds + 1)


class IncreLoraLinear(nn.Module):
    """The official SVDLinear with its blocks pre-drawn: only the blocks created so far are in ΔW."""

    def __init__(self, base, path, options, blocks):
        super().__init__()
        self.base = base
        self.path = path
        out_f, in_f = base.weight.shape
        self.shape = (out_f, in_f)
        alpha = options["loraAlpha"]
        self.scaling = float(alpha) if alpha > 0 else float(options["loraR"])
        self.ranknum = torch.tensor([float(options["loraR"])])  # official: a float32 Parameter without grad
        self.blocks = blocks  # [(A [n, in], B [out, n])] initial values, block 0 first
        self.A = nn.ParameterList()
        self.B = nn.ParameterList()
        self.E = nn.ParameterList()
        self.hook_active = True
        self.score = None
        self.create_block(trainable_ab=True, e_value=0.0, e_trainable=True)  # official: E[0] zeros, trainable

    @property
    def created(self):
        return len(self.A)

    def create_block(self, trainable_ab, e_value, e_trainable):
        a0, b0 = self.blocks[self.created]
        a = nn.Parameter(a0.clone(), requires_grad=trainable_ab)
        b = nn.Parameter(b0.clone(), requires_grad=trainable_ab)
        e = nn.Parameter(torch.full((a0.shape[0],), e_value), requires_grad=e_trainable)
        self.A.append(a)
        self.B.append(b)
        self.E.append(e)
        return a, b, e

    def delta(self):
        a = torch.cat(list(self.A), 0)  # [R, in]
        b = torch.cat(list(self.B), 1)  # [out, R]
        e = torch.cat(list(self.E), 0)  # [R]
        return b @ (a * e[:, None]) * self.scaling / (self.ranknum + 1e-5)  # [out, in]

    def forward(self, x):
        delta = self.delta()
        if self.training and self.hook_active and delta.requires_grad:
            numel = delta.numel()

            def record(grad):
                self.score = torch.sum((delta.detach().abs() * grad).abs()) / math.sqrt(numel)

            delta.register_hook(record)
        return self.base(x) + x @ delta.T

    def orth(self):
        """compute_svd_orth_regu's per-module part: ||A A^T - I||_F + ||B^T B - I||_F over the created blocks."""
        wa = torch.cat(list(self.A), 0)
        wb = torch.cat(list(self.B), 1)
        cov_a = wa @ wa.T
        cov_b = wb.T @ wb
        eye = torch.eye(cov_a.shape[0])
        return torch.norm(cov_a - eye, p="fro") + torch.norm(cov_b - eye, p="fro")


def orth_regularizer(modules):
    total = None
    for m in modules:
        total = m.orth() if total is None else total + m.orth()
    return total / (2 * len(modules))


def schedule_lambda(warmup, total):
    """get_lr_lambda of the official optimization.py."""

    def lr_lambda(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))

    return lr_lambda


class RankAllocator:
    """The official RankAllocator's decisions, over IncreLoraLinear modules (named-module order)."""

    def __init__(self, modules, options, optimizer, weight_decay, total_steps, warmup, base_lr):
        self.modules = modules
        self.o = options
        self.add_r = incre_rank_num(options)
        self.opt = optimizer
        self.weight_decay = weight_decay
        self.total_steps = total_steps
        self.warmup = warmup
        self.base_lr = base_lr
        self.total_rank = sum(int(m.ranknum.item()) for m in modules)
        self.target = target_total_rank(options, len(modules))
        self.ipt = [None] * len(modules)
        self.exp_ipt = [0] * len(modules)
        self.exp_unc = [0] * len(modules)
        # Per optimizer group: (added at step, lambda) - the first groups are the run's own.
        self.group_start = {}
        self.rounds = []  # {step, k, threshold, scores, ranks}

    def add_group(self, params, step):
        if not params:
            return
        self.opt.add_param_group({"params": params, "weight_decay": self.weight_decay, "lr": self.base_lr})
        self.group_start[len(self.opt.param_groups) - 1] = step

    def set_lrs(self, step, run_factor, run_base_lrs):
        """lr of every group at optimizer step `step` (Multi_LambdaLR, or LambdaLR without multi_lr)."""
        for i, g in enumerate(self.opt.param_groups):
            if i not in self.group_start:
                g["lr"] = run_base_lrs[i] * run_factor
            elif self.o["multiLr"]:
                start = self.group_start[i]
                lam = schedule_lambda(self.warmup, self.total_steps - start - 1)
                g["lr"] = self.base_lr * lam(step - start - 1)
            else:
                g["lr"] = self.base_lr

    def group_factor(self, group_index, step):
        start = self.group_start[group_index]
        return schedule_lambda(self.warmup, self.total_steps - start - 1)(step - start - 1)

    def update_and_increase(self, step):
        """Official update_and_increase(model, global_step, optimizer): after clipping, before optimizer.step()."""
        add_r = self.add_r
        if step == 0:
            new = []
            for m in self.modules:
                a, b, _ = m.create_block(trainable_ab=self.o["advanceLearn"], e_value=RESERVE_E if self.o["advanceLearn"] else 0.0, e_trainable=False)
                new += [a, b]
            if self.o["advanceLearn"]:
                self.add_group(new, step)
        if self.total_rank < self.target:
            for i, m in enumerate(self.modules):
                self.ipt[i] = m.score
                self.exp_ipt[i] = self.o["beta1"] * self.exp_ipt[i] + (1 - self.o["beta1"]) * self.ipt[i]
                self.exp_unc[i] = self.o["beta2"] * self.exp_unc[i] + (1 - self.o["beta2"]) * (self.ipt[i] - self.exp_ipt[i]).abs()
            if step > self.o["initWarmup"] and step % self.o["increInterval"] == 0:
                self.increase(step)

    def scores(self):
        return [self.exp_ipt[i] * self.exp_unc[i] for i in range(len(self.modules))]

    def increase(self, step):
        add_r = self.add_r
        scores = self.scores()
        # Official: k = min(top_h, target - total); torch.topk raises when k > #modules: clamped here.
        k = min(self.o["topH"], self.target - self.total_rank, len(self.modules))
        threshold = torch.topk(torch.stack([s.reshape(()) for s in scores]), k)[0][-1].item()
        new = []
        grown = []
        with torch.no_grad():
            for i, m in enumerate(self.modules):
                if scores[i] >= threshold:
                    m.ranknum += add_r
                    self.total_rank += add_r
                    grown.append(m.path)
                    reserve_e = m.E[-1]
                    reserve_e.requires_grad_(True)
                    new.append(reserve_e)
                    if self.o["advanceLearn"]:
                        a, b, _ = m.create_block(trainable_ab=True, e_value=RESERVE_E, e_trainable=False)
                        new += [a, b]
                    else:
                        m.A[-1].requires_grad_(True)
                        m.B[-1].requires_grad_(True)
                        new += [m.A[-1], m.B[-1]]
                        m.create_block(trainable_ab=False, e_value=0.0, e_trainable=False)
            self.add_group(new, step)
            finished = self.total_rank == self.target
            if finished:
                for m in self.modules:
                    m.hook_active = False
                    m.E[-1].fill_(0.0)
        self.rounds.append(
            {
                "step": step,
                "k": k,
                "threshold": threshold,
                "scores": {m.path: float(s) for m, s in zip(self.modules, scores)},
                "grown": grown,
                "ranks": {m.path: int(m.ranknum.item()) for m in self.modules},
                "totalRank": self.total_rank,
                "finished": finished,
            }
        )
