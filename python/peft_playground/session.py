"""One training run, step by step, in the browser engine's order (docs/engine.md "One optimizer step"): forward +
backward on the step's rows, AFLoRA's scores and masking round (raw gradients, before clipping), global-norm
clipping (torch clip_grad_norm_), the recipe's AdamW (optim.py) with the reference's parameter groups and the linear warm-up /
decay schedule, gradients set to None.

Several processes (accelerate launch / torchrun): torch DDP. Every rank takes its share (rows rank::world) of
the same global batch; the loss is the sum over its rows divided by the global row count, times world size, so
DDP's gradient average is exactly the global batch's mean gradient. AFLoRA's decisions are made from those
all-reduced gradients, hence identical on every rank. A freeze changes requires_grad mid-training, which a DDP
wrapper (it records the parameters that need gradients when built) does not allow, so the wrapper is rebuilt
after a step that froze something (freezes happen in a bounded number of steps)."""

import math
from typing import Dict, List, Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F

from .freezer import AfloraFreezer, resolve_schedule
from .methods import Adapter, model_inputs, orthogonal_regularizer, param_groups
from .optim import make_optimizer


def warmup_steps(total: int, ratio: float) -> int:
    return math.ceil(total * ratio)


def lr_factor(step: int, total: int, warmup: int) -> float:
    """transformers' get_linear_schedule_with_warmup (engine/schedule.ts)."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


class Session:
    def __init__(self, model, adapter: Adapter, recipe: dict, total_steps: int, steps_per_epoch: int, device, world: int = 1, rank: int = 0):
        self.model = model
        self.adapter = adapter
        self.recipe = recipe
        self.total_steps = total_steps
        self.steps_per_epoch = steps_per_epoch
        self.warmup = warmup_steps(total_steps, recipe["warmupRatio"])
        self.device = device
        self.world, self.rank = world, rank
        self.num_labels = model.config.num_labels
        self.optimizer = make_optimizer(param_groups(adapter, model, recipe), recipe)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.freezer: Optional[AfloraFreezer] = None
        if adapter.method == "aflora":
            matrices = {n: adapter.variables[n] for n in adapter.trainable if n.endswith((".lora_A", ".lora_B"))}
            self.freezer = AfloraFreezer(matrices, adapter.options, resolve_schedule(adapter.options, total_steps, recipe["epochs"]))
        self.step_index = 0
        self.wrapped = self._wrap()

    def _wrap(self):
        if self.world == 1:
            return self.model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

    def trainable_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def _loss_sum(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.num_labels == 1:
            return ((logits[:, 0] - labels.float()) ** 2).sum()
        return F.cross_entropy(logits, labels, reduction="sum")

    def step(self, batch: Dict[str, torch.Tensor]) -> dict:
        """One optimizer step on the global batch `batch` (every rank passes the same rows)."""
        step = self.step_index
        count = batch["labels"].shape[0]
        mine = {k: v[self.rank :: self.world].to(self.device) for k, v in batch.items()}
        self.model.train()
        logits = self.wrapped(**model_inputs(self.model, mine)).logits
        loss_sum = self._loss_sum(logits, mine["labels"])
        loss = loss_sum * (self.world / count)
        extra = None
        if self.adapter.method == "adalora":  # the regulariser in the gradient, and in the reported loss (as PEFT)
            extra = self.adapter.options["orthRegWeight"] * orthogonal_regularizer(self.adapter)
            loss = loss + extra
        loss.backward()
        reported = loss_sum.detach().clone()
        if self.world > 1:
            dist.all_reduce(reported)
        frozen = self.freezer.update(step) if self.freezer else []
        params = [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]
        max_norm = self.recipe["maxGradNorm"] if self.recipe["maxGradNorm"] > 0 else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        factor = lr_factor(step, self.total_steps, self.warmup)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor
        trainable = self.trainable_params() + sum(self.adapter.variables[n].numel() for n in frozen)
        self.optimizer.step()
        if self.adapter.method == "adalora":  # PEFT's point: after the update, with this step's (clipped) gradients
            self.adapter.peft_model.base_model.update_and_allocate(step)
        self.optimizer.zero_grad(set_to_none=True)
        for name in frozen:  # permanent: drop the Adam moments (the engine's optimizer.drop)
            self.optimizer.state.pop(self.adapter.variables[name], None)
        if frozen and self.world > 1:
            self.wrapped = self._wrap()
        self.step_index += 1
        return {
            "step": step,
            "epoch": (step + 1) / self.steps_per_epoch,
            "loss": float(reported) / count + (float(extra) if extra is not None else 0.0),
            "grad_norm": float(grad_norm),
            "lr": self.recipe["adapterLr"] * factor,
            "trainable_params": trainable,
            "frozen": frozen,
        }

    @torch.no_grad()
    def logits(self, encoded, batch_size: int) -> torch.Tensor:
        self.model.eval()
        out = []
        for start in range(0, len(encoded), batch_size):
            rows = {k: v.to(self.device) for k, v in encoded.rows(slice(start, start + batch_size)).items()}
            out.append(self.model(**model_inputs(self.model, rows)).logits.float().cpu())
        return torch.cat(out)
