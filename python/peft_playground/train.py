"""Train a run config from the app, on one or many GPUs (or the CPU):

    accelerate launch -m peft_playground.train --config run.json [--model PATH_OR_HF_ID] [--output-dir outputs]

Several processes (accelerate launch --num_processes N, or torchrun) run torch DDP (session.py says how freezing
stays in step across ranks). Writes into the output directory: metrics.csv (every step), eval.csv (every
evaluation), freeze_log.csv + schedule.json (AFLoRA family), rank_log.csv, adapter/ (PEFT: adapter_config.json +
adapter_model.safetensors; full fine-tuning: model/ as save_pretrained) and summary.json."""

import argparse
import json
import math
import os
import statistics
import sys
import time
from typing import Optional

import torch

from .config import RunConfig, load_run_config
from .data import encode, epoch_order, load_split
from .methods import attach, family_of, init_head, saved_params, supported_families_text
from .metrics import evaluate
from .outputs import FREEZE_COLUMNS, METRIC_COLUMNS, freeze_rows, rank_rows, write_csv, write_peft
from .session import Session

# Every family's dropout keys (config.json): BERT / RoBERTa / ELECTRA / DeBERTa, DistilBERT, DeBERTa's pooler. The
# head's own dropout (classifier_dropout, cls_dropout) falls back to the hidden one when None.
DROPOUT_KEYS = ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "attention_dropout", "seq_classif_dropout", "pooler_dropout")
HEAD_DROPOUT_KEYS = ("classifier_dropout", "cls_dropout")


def model_source(config: RunConfig, config_dir: str, override: Optional[str]):
    """--model, else the run config's Hugging Face id (+ revision), else model/ next to run.json (the export puts
    the built-in model there)."""
    if override:
        return override, None
    if config.model["hubId"]:
        return config.model["hubId"], config.model["revision"]
    local = os.path.join(config_dir, "model")
    if os.path.isdir(local):
        return local, None
    raise SystemExit(f'model "{config.model["name"]}" has no Hugging Face id and {local} does not exist: pass --model PATH_OR_HF_ID')


def load_model(source: str, revision: Optional[str], num_labels: int, seed: int, dropout: Optional[float], device):
    from transformers import AutoConfig, AutoModelForSequenceClassification
    from transformers.utils import logging

    logging.set_verbosity_error()  # the head is new by design: no MISSING / UNEXPECTED table
    cfg = AutoConfig.from_pretrained(source, revision=revision, num_labels=num_labels)
    try:
        family = family_of(cfg.model_type)
    except ValueError:
        raise SystemExit(f"model_type {cfg.model_type!r}: the playground runs the families the app loads: {supported_families_text()}") from None
    if dropout is not None:
        for key in DROPOUT_KEYS:
            if hasattr(cfg, key):
                setattr(cfg, key, dropout)
        for key in HEAD_DROPOUT_KEYS:
            if hasattr(cfg, key):
                setattr(cfg, key, None)
    model, info = AutoModelForSequenceClassification.from_pretrained(
        source, revision=revision, config=cfg, output_loading_info=True, ignore_mismatched_sizes=True, dtype=torch.float32
    )
    fresh = set(info.get("missing_keys", []))
    for item in info.get("mismatched_keys", []):
        fresh.add(item[0] if isinstance(item, (tuple, list)) else item)
    # A fresh head (and a pooler the checkpoint lacks: BERT's MLM-only exports, deberta-v3) as the app draws them,
    # seeded by name, not transformers' torch-RNG init; the PEFT export then carries the drawn pooler.
    drawable = [*family["headModules"], *family["optionalModules"]]
    names = [n for n, _ in model.named_parameters() if n in fresh and any(n.startswith(f"{m}.") for m in drawable)]
    init_head(model, seed, names)
    model.playground_fresh_modules = [m for m in family["optionalModules"] if any(n.startswith(f"{m}.") for n in names)]
    return model.to(device)


def run(args, world: int = 1, rank: int = 0, device=None) -> dict:
    device = device or torch.device("cpu")
    config = load_run_config(args.config)
    config_dir = os.path.dirname(os.path.abspath(args.config))
    recipe = config.recipe
    torch.manual_seed(recipe["seed"])  # dropout masks (the browser's come from its own generator)
    source, revision = model_source(config, config_dir, args.model)
    model = load_model(source, revision, config.num_labels, recipe["seed"], args.dropout, device)
    initial = None
    if args.init:
        from safetensors.torch import load_file

        initial = load_file(args.init)
        with torch.no_grad():
            for name, p in saved_params(model).items():
                if name in initial:
                    p.copy_(initial[name])
    n_train = None  # AdaLoRA's budget needs the total steps: count the rows first
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, revision=revision)
    train_rows, val_rows = load_split(config, args.data_dir or config_dir)
    n_train = len(train_rows)
    adapter = attach(model, config.method, config.options, recipe["seed"], initial, math.ceil(n_train / recipe["batchSize"]) * recipe["epochs"])
    if config.data["task"] == "classification":  # the user's class names, as the app's exports write them
        model.config.id2label = dict(enumerate(config.data["labelNames"]))
        model.config.label2id = {name: i for i, name in enumerate(config.data["labelNames"])}

    task, max_length, batch_size = config.data["task"], recipe["maxLength"], recipe["batchSize"]
    train, val = encode(tokenizer, train_rows, task, max_length), encode(tokenizer, val_rows, task, max_length) if val_rows else None
    steps_per_epoch = math.ceil(len(train) / batch_size)
    total = steps_per_epoch * recipe["epochs"]
    session = Session(model, adapter, recipe, total, steps_per_epoch, device, world, rank)
    main = rank == 0
    out = args.output_dir
    if main:
        os.makedirs(out, exist_ok=True)
        print(f"{config.method} on {config.data['name']}: {len(train)} train / {len(val) if val else 0} validation rows, {total} steps, {world} process(es), {device}", flush=True)

    metrics, evals, times, order = [], [], [], None
    last = min(total, args.max_steps) if args.max_steps else total

    def run_eval(step):
        if val is None:
            return
        result = {"step": step, "epoch": (step + 1) / steps_per_epoch, **evaluate(session.logits(val, batch_size).numpy(), val.labels.numpy())}
        evals.append(result)
        if main:
            print("  eval " + "  ".join(f"{k} {v:.4g}" for k, v in result.items() if k not in ("step",)), flush=True)

    for step in range(last):
        epoch, within = divmod(step, steps_per_epoch)
        if within == 0:
            order = epoch_order(recipe["seed"], epoch, len(train))
        rows = train.rows(torch.from_numpy(order[within * batch_size : (within + 1) * batch_size]))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        began = time.perf_counter()
        record = session.step(rows)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - began)
        metrics.append(record)
        if main and (step % recipe["logEvery"] == 0 or record["frozen"] or step == last - 1):
            froze = f"  froze {len(record['frozen'])}" if record["frozen"] else ""
            print(f"step {step:5d}  loss {record['loss']:.5f}  grad norm {record['grad_norm']:.4g}  lr {record['lr']:.3g}{froze}", flush=True)
        end_of_epoch = within == steps_per_epoch - 1
        if end_of_epoch or (recipe["evalEvery"] and (step + 1) % recipe["evalEvery"] == 0):
            run_eval(step)

    freezer = session.freezer
    summary = {
        "method": config.method,
        "steps": last,
        "totalSteps": total,
        "processes": world,
        "device": str(device),
        "finalLoss": metrics[-1]["loss"] if metrics else None,
        "eval": evals[-1] if evals else None,
        # Median seconds per optimizer step after the first two (compilation, allocator warm-up).
        "stepSeconds": statistics.median(times[2:]) if len(times) > 2 else (times[-1] if times else None),
        "freezeSteps": freezer.frozen_at if freezer else None,
    }
    if world > 1 and freezer:  # each rank's own record, to show they agree
        with open(os.path.join(out, f"freeze_steps.rank{rank}.json"), "w", encoding="utf-8") as f:
            json.dump(freezer.frozen_at, f, indent=1)
    if main:
        write_csv(os.path.join(out, "metrics.csv"), METRIC_COLUMNS, metrics)
        if evals:
            write_csv(os.path.join(out, "eval.csv"), list(evals[-1].keys()), evals)
        if config.method in ("aflora", "pm-trainable"):
            if freezer:
                frozen_at, scores = freezer.frozen_at, freezer.last_score
            else:
                names = [n for n in adapter.trainable if n.endswith((".lora_A", ".lora_B"))]
                frozen_at, scores = {n: None for n in names}, {}
            write_csv(os.path.join(out, "freeze_log.csv"), FREEZE_COLUMNS, freeze_rows(frozen_at, scores, last))
            with open(os.path.join(out, "schedule.json"), "w", encoding="utf-8") as f:
                json.dump(freezer.rounds if freezer else [], f, indent=1)
        if adapter.modules:
            write_csv(os.path.join(out, "rank_log.csv"), ["module", "layer", "kind", "rank", "trainable_matrices"], rank_rows(adapter))
        base_name = config.model["hubId"] or config.model["name"]
        if adapter.method == "adalora":
            adapter.peft_model.save_pretrained(os.path.join(out, "adapter"))
        elif write_peft(out, adapter, model, base_name) is None:
            model.save_pretrained(os.path.join(out, "model"))
        with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1)
        print(f"wrote {out}: final loss {summary['finalLoss']:.5f}, {summary['stepSeconds'] * 1e3:.1f} ms/step", flush=True)
    return {"summary": summary, "metrics": metrics, "evals": evals, "session": session}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="peft_playground.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="run.json exported by the app")
    p.add_argument("--model", help="Hugging Face id or local directory (default: the run config's hubId, else ./model next to run.json)")
    p.add_argument("--data-dir", help="where the run config's data files are (default: next to run.json)")
    p.add_argument("--output-dir", default="outputs")
    p.add_argument("--dropout", type=float, help="override the model's hidden and attention dropout (0: deterministic, for reproduction)")
    p.add_argument("--init", help="safetensors of initial values by the app's variable names (default: the app's seeded init)")
    p.add_argument("--max-steps", type=int, help="stop after this many steps (the schedule still spans the whole run)")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    from accelerate import Accelerator

    accelerator = Accelerator()
    world, rank = accelerator.num_processes, accelerator.process_index
    run(args, world, rank, accelerator.device)
    accelerator.wait_for_everyone()
    return 0


if __name__ == "__main__":
    sys.exit(main())
