"""The package's methods and training loop against the golden fixtures the TypeScript engine is tested with
(tests/fixtures/golden and every family's tests/fixtures/golden-<family>, docs/fixture-format.md): the same trained
parameters in the same groups, same freeze steps, every step's loss within 1e-4, every final tensor within 1e-3 of its
largest value (the TS engine's golden tolerance)."""

import json
import os

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

from conftest import GOLDEN
from peft_playground.config import resolve_options
from peft_playground.methods import FAMILIES, attach, head_params
from peft_playground.session import Session

BERT_CASES = ["aflora", "aflora_both_pxg", "aflora_regression", "aflora_adamw_hf", "lora", "elora", "adalora"]
# Every family's fixtures (make_golden.py --family, deberta_golden.py): 80 AFLoRA / LoRA steps on its tiny model.
FAMILY_DIRS = {"distilbert": "golden-distilbert", "roberta": "golden-roberta", "electra": "golden-electra", "deberta-v2": "golden-deberta"}
FIXTURES = os.path.dirname(GOLDEN)
CASES = [(GOLDEN, case) for case in BERT_CASES] + [
    (os.path.join(FIXTURES, folder), case)
    for folder in FAMILY_DIRS.values()
    for case in ("aflora", "lora")
    if os.path.exists(os.path.join(FIXTURES, folder, f"{case}.json"))
]
TOL = 1e-4
# Final tensors after all steps, relative to each tensor's largest |value| (as tests/engine/golden.test.ts): 80 float32
# steps under another torch build drift past 1e-4 absolute (torch 2.13: 1.5e-4 on a lambda_b of scale 0.3, losses 2.4e-7).
FINAL_TOL = 1e-3


def run_case(case, world=1, rank=0, folder=GOLDEN):
    info = json.load(open(os.path.join(folder, f"{case}.json")))
    tensors = load_file(os.path.join(folder, f"{case}.safetensors"))
    regression = case.endswith("regression")
    model = AutoModelForSequenceClassification.from_pretrained(os.path.join(folder, "model"), num_labels=1 if regression else 2, ignore_mismatched_sizes=True, dtype=torch.float32)
    initial = {k[len("init."):]: v for k, v in tensors.items() if k.startswith("init.")}
    with torch.no_grad():
        for name in ("classifier.weight", "classifier.bias"):
            if name in initial:
                dict(model.named_parameters())[name].copy_(initial[name])
    options = resolve_options(info["method"], info["options"])
    r = info["recipe"]
    recipe = {**{k: r[k] for k in ("adapterLr", "classifierLr", "weightDecay", "classifierWeightDecay", "warmupRatio", "maxGradNorm", "epochs")}, "seed": 0, "optimizer": r.get("optimizer", "adamw_torch")}
    adapter = attach(model, info["method"], options, 0, initial, r["totalSteps"])
    session = Session(model, adapter, recipe, r["totalSteps"], r["totalSteps"] // r["epochs"], torch.device("cpu"), world, rank)
    batches = {k: tensors[f"input.{k}"].long() for k in ("input_ids", "token_type_ids", "attention_mask")}
    labels = tensors["input.labels"]
    losses = []
    for step in range(r["totalSteps"]):
        b = step % r["numBatches"]
        rows = {k: v[b] for k, v in batches.items()}
        rows["labels"] = labels[b].float() if regression else labels[b].long()
        losses.append(session.step(rows)["loss"])
    return info, tensors, adapter, model, session, losses


def test_every_family_has_fixtures():
    assert set(FAMILY_DIRS) == set(FAMILIES) - {"bert"}
    assert len(CASES) == len(BERT_CASES) + 2 * len(FAMILY_DIRS)


def param_group_record(session, params):
    """{"<engine name> lr" / "<engine name> weightDecay": value} of what the optimizer trains (the fixtures' paramGroups, flat)."""
    name_of = {id(p): n for n, p in params.items()}
    groups = zip(session.optimizer.param_groups, session.base_lrs)  # lr: the peak, before the schedule scales it
    return {k: v for g, lr in groups for p in g["params"] for k, v in ((f"{name_of[id(p)]} lr", lr), (f"{name_of[id(p)]} weightDecay", g["weight_decay"]))}


@pytest.mark.parametrize("folder,case", CASES, ids=[f"{os.path.basename(f)}-{c}" for f, c in CASES])
def test_golden(folder, case):
    info, tensors, adapter, model, session, losses = run_case(case, folder=folder)
    params = {**adapter.variables, **head_params(model)}
    if info["method"] != "adalora":  # PEFT's AdaLoRA groups are its own
        # The trained head per family (DeBERTa's pooler stays frozen, DistilBERT's pre_classifier trains) and its lr.
        expected = {f"{n} {key}": v for n, group in info["paramGroups"].items() for key, v in group.items()}
        assert param_group_record(session, params) == pytest.approx(expected)
    assert max(abs(a - b) for a, b in zip(losses, info["losses"])) < TOL
    finals = {k[len("final."):]: v for k, v in tensors.items() if k.startswith("final.")}
    assert len(finals) > 0
    for name, expected in finals.items():
        if name.endswith(".lora_mask"):  # the app's AdaLoRA mask; PEFT zeroes the masked entries of E in place
            kept = (params[name[: -len("mask")] + "E"].detach() != 0).float().reshape(expected.shape)
            assert torch.equal(kept, expected), f"{name}: rank pattern differs"
            continue
        diff = float((params[name].detach() - expected).abs().max())
        allowed = FINAL_TOL * max(float(expected.abs().max()), 1e-6)
        assert diff <= allowed, f"{name}: max |diff| {diff:.3g}, allowed {allowed:.3g}"
    if info["method"] == "aflora":
        assert session.freezer.frozen_at == info["freezeSteps"]
        assert [round(x["step"]) for x in session.freezer.rounds] == [x["step"] for x in info["schedule"]]
        assert [x["k"] for x in session.freezer.rounds] == [x["k"] for x in info["schedule"]]
