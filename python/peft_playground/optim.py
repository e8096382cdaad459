"""The recipe's optimizers: `adamw_torch` is torch.optim.AdamW; `adamw_hf` is transformers 4.31's own AdamW (the
Trainer's old default, which the official AFLoRA runs used; later transformers removed it), written from that
code: eps added to sqrt(v) before the bias correction, weight decay applied after the update (engine/optimizer.ts
variant 'hf'; golden case aflora_adamw_hf)."""

import math

import torch


class HfAdamW(torch.optim.Optimizer):
    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
                m.mul_(beta1).add_(p.grad, alpha=1.0 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1.0 - beta2)
                denom = v.sqrt().add_(group["eps"])
                p.addcdiv_(m, denom, value=-group["lr"] * math.sqrt(1.0 - beta2**t) / (1.0 - beta1**t))
                if group["weight_decay"] > 0.0:
                    p.add_(p, alpha=-group["lr"] * group["weight_decay"])


def make_optimizer(groups, recipe: dict) -> torch.optim.Optimizer:
    kind = recipe.get("optimizer", "adamw_torch")
    if kind == "adamw_hf":
        return HfAdamW(groups, lr=recipe["adapterLr"], betas=(0.9, 0.999), eps=1e-8)
    if kind == "adamw_torch":
        return torch.optim.AdamW(groups, lr=recipe["adapterLr"], betas=(0.9, 0.999), eps=1e-8, foreach=False)
    raise ValueError(f"optimizer {kind!r} is in the app but not yet in peft_playground")
