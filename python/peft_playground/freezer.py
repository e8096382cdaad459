"""AFLoRA's freezing (src/methods/aflora/README.md: the official code's conventions, zeyuliu1037/AFLoRA
glue/utils.py Pruner): per A/B element a sensitivity window mean W, its EMA Ibar and uncertainty Ubar; on masking
rounds (a cubic schedule) every still-trainable A/B tensor whose mean score Ibar * Ubar is below the k-th smallest
element score freezes for good.

`update(step)` runs after backward and before clipping / the optimizer step, as the reference does. Under DDP the
gradients it reads are already all-reduced (averaged over ranks), so every rank computes the same scores and
freezes the same tensors at the same step; no extra communication."""

import math
from typing import Dict, List, Optional

import torch


def js_round(x: float) -> int:
    return math.floor(x + 0.5)


def resolve_schedule(options: dict, total_steps: int, epochs: int) -> dict:
    """methods/aflora/schedule.ts resolveSchedule: t_i / t_f in steps, counted in whole epochs of floor(T / E)."""
    per_epoch = max(1, total_steps // max(1, epochs))
    ti = options["initialWarmup"] if options["initialWarmup"] is not None else js_round(options["tiEpochs"] * per_epoch)
    tf = options["finalWarmup"] if options["finalWarmup"] is not None else js_round(options["tfFraction"] * epochs * per_epoch)
    return {"totalSteps": total_steps, "initialWarmup": ti, "finalWarmup": tf, "deltaT": options["deltaT"], "finalRatio": options["finalRatio"]}


def remaining_fraction(step: int, s: dict) -> float:
    if step <= s["initialWarmup"]:
        return 1.0
    if step > s["totalSteps"] - s["finalWarmup"]:
        return s["finalRatio"]
    ramp = s["totalSteps"] - s["initialWarmup"] - s["finalWarmup"]
    return s["finalRatio"] + (1 - s["finalRatio"]) * (1 - (step - s["initialWarmup"]) / ramp) ** 3


def is_masking_step(step: int, s: dict) -> bool:
    if step <= s["initialWarmup"]:
        return False
    if step > s["totalSteps"] - s["finalWarmup"]:
        return True
    return step % s["deltaT"] == 0


class AfloraFreezer:
    def __init__(self, params: Dict[str, torch.nn.Parameter], options: dict, schedule: dict):
        self.params = params  # the A/B tensors that may freeze, trainable at step 0
        self.opt = options
        self.schedule = schedule
        self.window, self.ibar, self.ubar = {}, {}, {}
        self.frozen_at: Dict[str, Optional[int]] = {n: None for n in params}
        self.last_score: Dict[str, Optional[float]] = {n: None for n in params}
        self.total_elements = sum(p.numel() for p in params.values())
        self.rounds: List[dict] = []  # one per masking round: step, remaining, k, threshold, trainableFraction
        self.stopped = False

    def trainable(self) -> List[str]:
        return [n for n in self.params if self.frozen_at[n] is None]

    def _sensitivity(self, p: torch.Tensor) -> torch.Tensor:
        g, w = p.grad.detach(), p.detach()
        kind = self.opt["sensitivity"]
        if kind == "grad":
            return (torch.sign(w) * g).abs()
        if kind == "paramGrad":
            return (w * g).abs()
        # gradOverParam; an element at p = 0 counts 0 (methods/aflora/scores.ts), not NaN / Inf.
        return torch.where(w == 0, torch.zeros_like(g), (g / torch.where(w == 0, torch.ones_like(w), w)).abs())

    def _score(self, name: str) -> torch.Tensor:
        if self.opt["beta2"] == 1:
            return self.ibar[name]  # the reference's beta2 = 1: Ibar alone
        return self.ibar[name] * self.ubar[name]

    def update(self, step: int) -> List[str]:
        """Scores from step `step`'s gradients, then the masking round if it is one; returns the names that froze
        (requires_grad is already off: they take this step's update, as in the reference, and none after)."""
        if self.stopped:
            return []
        b1, b2, dt = self.opt["beta1"], self.opt["beta2"], self.opt["deltaT"]
        local = step % dt
        names = self.trainable()
        with torch.no_grad():
            for n in names:
                p = self.params[n]
                if n not in self.window:
                    self.window[n], self.ibar[n], self.ubar[n] = (torch.zeros_like(p) for _ in range(3))
                s = self._sensitivity(p)
                if local == 0:
                    self.ibar[n] = b1 * self.ibar[n] + (1 - b1) * self.window[n]
                    self.ubar[n] = b2 * self.ubar[n] + (1 - b2) * (self.window[n] - self.ibar[n]).abs()
                    self.window[n] = s
                else:
                    self.window[n] = (self.window[n] * local + s) / (local + 1)
            if local == 0:
                for n in names:
                    self.last_score[n] = float(self._score(n).mean())
            return self._mask(step, names)

    def _mask(self, step: int, names: List[str]) -> List[str]:
        if not is_masking_step(step, self.schedule):
            return []
        if not names:
            self.stopped = True
            return []
        ratio = remaining_fraction(step, self.schedule)
        scores = torch.cat([self._score(n).reshape(-1) for n in names])
        if not bool(torch.isfinite(scores).all()):
            raise ValueError(f"AFLoRA's freezing score is not finite at step {step}: lower the adapter learning rate (or the max grad norm)")
        k = max(1, int(scores.numel() * (1 - ratio)))
        means = {n: float(self._score(n).mean()) for n in names}
        if self.opt["freezeTogether"]:
            partner = lambda n: n[:-1] + ("B" if n.endswith("A") else "A")  # noqa: E731
            decide = {n: (means[n] + means.get(partner(n), means[n])) / 2 for n in names}
        else:
            decide = means
        if self.opt["thresholdRule"] == "matrices":
            # The paper's text: the lowest-scoring matrices freeze until floor(M (1 - r)) of the M initial are frozen.
            already = sum(1 for at in self.frozen_at.values() if at is not None)
            ranked = sorted(names, key=lambda n: decide[n])
            frozen = ranked[: max(0, math.floor(len(self.params) * (1 - ratio)) - already)]
            threshold = decide[frozen[-1]] if frozen else decide[ranked[0]]
        else:
            threshold = float(torch.kthvalue(scores.cpu(), k)[0])
            frozen = [n for n in names if decide[n] < threshold]
        for n in frozen:
            self.params[n].requires_grad_(False)
            self.frozen_at[n] = step
        left = sum(self.params[n].numel() for n in self.trainable())
        # How close the nearest decision came to flipping: float differences between frameworks must stay below it.
        margin = min(abs(decide[n] - threshold) for n in names) / max(abs(threshold), 1e-30)
        self.rounds.append({"step": step, "remaining": ratio, "k": k, "threshold": threshold, "trainableFraction": left / self.total_elements, "margin": margin})
        return frozen
