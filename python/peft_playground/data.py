"""The run's data as the app reads it (src/io/datasets): CSV / TSV / JSONL by file name, the run config's columns
and class names, the seeded stratified validation split (splitValidation, same PRNG), and token ids padded to
maxLength with the model's own tokenizer (transformers; the app's WordPiece is checked against it in
tests/io/tokenizer.golden.test.ts). Header detection is not repeated: a file without a header row gets columns
"column 1", "column 2", ... in the app, and the run config names them so."""

import csv
import io
import json
import math
import os
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
import torch

from .config import RunConfig
from .rng import Rng


class DataError(ValueError):
    pass


@dataclass
class Example:
    text: str
    text_pair: Optional[str]
    label: float  # class id, or the regression target
    line: int


def _format(name: str) -> str:
    lower = name.lower()
    if lower.endswith((".tsv", ".tab")):
        return "tsv"
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "csv"


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return json.dumps(value)


def read_table(path: str, wanted: List[str]) -> List[Dict[str, str]]:
    """Rows as {column: cell}; a headerless CSV/TSV (the run config names "column 1", ...) is read by position."""
    with open(path, "rb") as f:
        raw = f.read()
    try:  # the app: a BOM, else valid UTF-8, else Windows-1252
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    fmt = _format(path)
    if fmt == "jsonl":
        stripped = text.strip()
        values = json.loads(stripped) if stripped.startswith("[") else [json.loads(l) for l in stripped.splitlines() if l.strip()]
        return [{k: _cell(v) for k, v in row.items()} | {"__line__": str(i + 1)} for i, row in enumerate(values)]
    reader = csv.reader(io.StringIO(text), delimiter="\t" if fmt == "tsv" else ",")
    rows = [r for r in reader if any(c.strip() for c in r)]
    if not rows:
        return []
    header = [c.strip() for c in rows[0]]
    positional = all(name.startswith("column ") for name in wanted) and not any(name in header for name in wanted)
    if positional:
        header = [f"column {i + 1}" for i in range(max(len(r) for r in rows))]
        body = rows
    else:
        body = rows[1:]
    return [dict(zip(header, r)) | {"__line__": str(i + (1 if positional else 2))} for i, r in enumerate(body)]


def build_examples(path: str, config: RunConfig) -> List[Example]:
    cols = config.data["columns"]
    wanted = [c for c in (cols["text"], cols["textPair"], cols["label"]) if c is not None]
    rows = read_table(path, wanted)
    if rows and any(c not in rows[0] for c in wanted):
        missing = [c for c in wanted if c not in rows[0]]
        raise DataError(f"{path}: column(s) {', '.join(missing)} of the run config not found (columns: {', '.join(k for k in rows[0] if k != '__line__')})")
    regression = config.data["task"] == "regression"
    label_id = {name: i for i, name in enumerate(config.labels)}
    examples, problems = [], []
    for row in rows:
        line = int(row["__line__"])
        text, pair, raw = row.get(cols["text"], ""), row.get(cols["textPair"]) if cols["textPair"] else None, row.get(cols["label"], "").strip()
        if text.strip() == "" or (pair is not None and pair.strip() == "") or raw == "":
            problems.append(f"line {line}: empty text or label")
            continue
        if regression:
            try:
                label = float(raw)
            except ValueError:
                problems.append(f'line {line}: label "{raw}" is not a number (regression)')
                continue
        elif raw in label_id:
            label = label_id[raw]
        else:
            problems.append(f'line {line}: label "{raw}" is not one of the run config\'s classes ({", ".join(config.labels)})')
            continue
        examples.append(Example(text, pair, label, line))
    if problems:
        shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        raise DataError(f"{path}: {len(problems)} unusable row(s): {shown}. Fix the file (the app refuses it too).")
    if not examples:
        raise DataError(f"{path}: no usable rows")
    return examples


def _js_round(x: float) -> int:
    return math.floor(x + 0.5)


def split_validation(rows: List[Example], task: str, fraction: float, seed: int):
    """io/datasets/dataset.ts splitValidation: per class (classification) a seeded shuffle, round(n * fraction)
    rows held out (at least one per class with 2+ rows, never all); order inside each part kept."""
    rng = Rng(seed)
    groups: Dict[float, List[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(row.label if task == "classification" else 0, []).append(i)
    held = set()
    for key in sorted(groups):
        members = list(groups[key])
        for i in range(len(members) - 1, 0, -1):
            j = rng.int(i + 1)
            members[i], members[j] = members[j], members[i]
        take = _js_round(len(members) * fraction)
        if task == "classification" and len(members) >= 2:
            take = max(1, take)
        take = min(take, len(members) - 1)
        held.update(members[:take])
    return [r for i, r in enumerate(rows) if i not in held], [r for i, r in enumerate(rows) if i in held]


def load_split(config: RunConfig, data_dir: str):
    """(train, validation) examples of the run config, files relative to `data_dir`."""
    train = build_examples(os.path.join(data_dir, config.data["train"]), config)
    if config.data["validation"]:
        return train, build_examples(os.path.join(data_dir, config.data["validation"]), config)
    return split_validation(train, config.data["task"], config.data["validationFraction"], config.data["validationSeed"])


@dataclass
class Encoded:
    """Token arrays [count, maxLength] (int64) and labels [count]."""

    input_ids: torch.Tensor
    token_type_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor

    def __len__(self):
        return self.input_ids.shape[0]

    def rows(self, index) -> Dict[str, torch.Tensor]:
        return {k: getattr(self, k)[index] for k in ("input_ids", "token_type_ids", "attention_mask", "labels")}


def encode(tokenizer, rows: List[Example], task: str, max_length: int) -> Encoded:
    pairs = [r.text_pair for r in rows] if any(r.text_pair is not None for r in rows) else None
    enc = tokenizer(
        [r.text for r in rows], pairs, truncation="longest_first", max_length=max_length, padding="max_length", return_tensors="pt"
    )
    labels = torch.tensor([r.label for r in rows], dtype=torch.float32 if task == "regression" else torch.int64)
    token_types = enc.get("token_type_ids", torch.zeros_like(enc["input_ids"]))
    return Encoded(enc["input_ids"], token_types, enc["attention_mask"], labels)


def epoch_order(seed: int, epoch: int, count: int) -> np.ndarray:
    """The Trainer's per-epoch shuffle (engine/trainer.ts batchForStep)."""
    from .rng import mix_seed

    return Rng(mix_seed(seed, 0x5F1E, epoch)).permutation(count)
