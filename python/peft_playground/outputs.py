"""The app's outputs: freeze log (io/export/logs.ts freezeLogToCsv columns), rank log, per-step metrics CSV,
evaluations CSV, and the PEFT adapter (adapter_config.json + adapter_model.safetensors)."""

import csv
import json
import os
from typing import Dict, List, Optional

from safetensors.torch import save_file

from .methods import parse_module_path, peft_adapter

FREEZE_COLUMNS = ["name", "layer", "kind", "matrix", "frozen_at_step", "steps_trained", "last_score"]
METRIC_COLUMNS = ["step", "epoch", "loss", "grad_norm", "lr", "trainable_params"]


def _cell(value):
    return "" if value is None else value


def write_csv(path: str, columns: List[str], rows: List[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])


def parse_name(name: str):
    """`bert.encoder.layer.3.intermediate.dense.lora_A` -> (3, 'inter', 'A')."""
    path, _, leaf = name.rpartition(".lora_")
    layer, kind = parse_module_path(path)
    return layer, kind, leaf


def freeze_rows(frozen_at: Dict[str, Optional[int]], last_score: Dict[str, Optional[float]], total_steps: int) -> List[dict]:
    rows = []
    for name, at in frozen_at.items():
        layer, kind, matrix = parse_name(name)
        rows.append({
            "name": name, "layer": layer, "kind": kind, "matrix": matrix, "frozen_at_step": at,
            "steps_trained": total_steps if at is None else at + 1, "last_score": last_score.get(name),
        })
    return rows


def rank_rows(adapter) -> List[dict]:
    """Rank of every adapted module (fixed-rank methods: the same all run) and how many of its A/B still train."""
    rows = []
    for path in adapter.modules:
        layer, kind = parse_module_path(path)
        a, e = adapter.variables[f"{path}.lora_A"], adapter.variables.get(f"{path}.lora_E")
        rank = int((e != 0).sum()) if e is not None else a.shape[0]  # AdaLoRA: the triplets PEFT has not masked
        rows.append({"module": path, "layer": layer, "kind": kind, "rank": rank,
                     "trainable_matrices": sum(int(adapter.variables[f"{path}.lora_{x}"].requires_grad) for x in "AB")})
    return rows


def write_peft(out_dir: str, adapter, model, base_model: str) -> Optional[str]:
    made = peft_adapter(adapter, model, base_model)
    if made is None:
        return None
    config, tensors = made
    target = os.path.join(out_dir, "adapter")
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "adapter_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    save_file(tensors, os.path.join(target, "adapter_model.safetensors"), metadata={"format": "pt"})
    return target
