#!/usr/bin/env python3
"""Golden AFLoRA schedules: the reference's Pruner.schedule_threshold_comb (zeyuliu1037/AFLoRA glue/utils.py),
restated here, over whole runs of several lengths, t_i / t_f given in epochs as the official scripts give them.

    python3 scripts/reference/schedule_golden.py tests/fixtures/schedule/official.json

Per case: every step's remaining fraction r(t) and whether it masks, with warmup_steps = total // epochs (the
reference's epoch length), threshold = final + (initial - final) * (1 - (t - t_i) / (T - t_i - t_f))^3 on the ramp.
No torch needed.
"""
import json
import sys


def schedule(step, total, epochs, initial_warmup, final_warmup, delta_t, final_threshold, initial_threshold=1.0):
    warmup_steps = total // epochs
    if step <= initial_warmup * warmup_steps:
        return initial_threshold, False
    if step > total - final_warmup * warmup_steps:
        return final_threshold, True
    spars_warmup_steps = initial_warmup * warmup_steps
    spars_schedu_steps = (final_warmup + initial_warmup) * warmup_steps
    mul_coeff = 1 - (step - spars_warmup_steps) / (total - spars_schedu_steps)
    threshold = final_threshold + (initial_threshold - final_threshold) * (mul_coeff**3)
    return threshold, step % delta_t == 0


# (steps per epoch, epochs, t_i epochs, t_f epochs, deltaT, r_f): the paper's 20/14 and 10/7 runs, short runs
# whose ramp collapses (3 and 2 epochs at t_f = 70 %: t_f = 2 and 1 whole epochs), and a final ratio.
CASES = [
    (37, 20, 1, 14, 10, 0.0),
    (64, 10, 1, 7, 10, 0.0),
    (40, 3, 1, 2, 10, 0.0),
    (40, 2, 1, 1, 10, 0.0),
    (50, 1, 1, 1, 10, 0.0),
    (30, 10, 1, 7, 10, 0.25),
]


def main():
    out = []
    for per_epoch, epochs, ti, tf, dt, rf in CASES:
        total = per_epoch * epochs
        rows = [schedule(t, total, epochs, ti, tf, dt, rf) for t in range(total)]
        out.append(
            {
                "totalSteps": total,
                "epochs": epochs,
                "tiEpochs": ti,
                "tfEpochs": tf,
                "deltaT": dt,
                "finalRatio": rf,
                "remaining": [r for r, _ in rows],
                "masking": [t for t, (_, m) in enumerate(rows) if m],
            }
        )
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump({"source": "zeyuliu1037/AFLoRA glue/utils.py schedule_threshold_comb", "cases": out}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
