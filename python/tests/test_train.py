"""The command line end to end on the app's built-in model and a few spam-ham rows: every output is written, the
PEFT adapter loads with PEFT and gives the trained model's logits, the freeze log matches the run."""

import csv
import json
import os
import shutil

import pytest
import torch

from conftest import REPO, RUN_CONFIGS
from peft_playground import train

BUILTIN = os.path.join(REPO, "public", "models", "builtin")
SPAM = os.path.join(REPO, "public", "datasets", "spam-ham", "train.csv")


def project(tmp_path, method, options, rows=48):
    raw = json.load(open(os.path.join(RUN_CONFIGS, "aflora.json")))
    from peft_playground.config import resolve_options

    raw["method"] = {"id": method, "options": resolve_options(method, options)}  # new options keep their defaults
    raw["recipe"].update(epochs=2, batchSize=8, maxLength=24, logEvery=100)
    raw["data"]["validationFraction"] = 0.25
    with open(SPAM, encoding="utf-8") as f:
        lines = f.read().splitlines()[: rows + 1]
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "run.json").write_text(json.dumps(raw), encoding="utf-8")
    return tmp_path / "run.json"


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


AFLORA = {"rank": 2, "trainableMatrices": "ffn", "sensitivity": "grad", "freezeTogether": False, "beta1": 0.85, "beta2": 0.95,
          "deltaT": 2, "tiEpochs": 0.5, "initialWarmup": None, "tfFraction": 0.3, "finalWarmup": None, "lambdaDInit": 0.1}


def test_aflora_run_writes_the_apps_outputs_and_a_peft_adapter(tmp_path):
    config = project(tmp_path, "aflora", AFLORA)
    out = tmp_path / "out"
    result = train.run(train.parser().parse_args(["--config", str(config), "--model", BUILTIN, "--output-dir", str(out), "--dropout", "0"]))
    summary = json.load(open(out / "summary.json"))
    assert summary["totalSteps"] == 2 * 5 and summary["steps"] == 10  # 36 train rows / 8 -> 5 steps per epoch
    metrics = read_csv(out / "metrics.csv")
    assert [int(m["step"]) for m in metrics] == list(range(10))
    assert all(float(m["loss"]) > 0 for m in metrics)
    assert len(read_csv(out / "eval.csv")) == 2  # each epoch end
    log = read_csv(out / "freeze_log.csv")
    assert len(log) == 2 * 2 * 2  # 2 layers x FFN (inter, out) x A/B
    assert {r["name"]: (int(r["frozen_at_step"]) if r["frozen_at_step"] else None) for r in log} == summary["freezeSteps"]
    assert any(r["frozen_at_step"] for r in log)
    assert len(read_csv(out / "rank_log.csv")) == 2 * 6

    # PEFT loads the adapter onto the base model and computes what the trained model computes.
    from peft import PeftModel
    from transformers import BertForSequenceClassification

    session = result["session"]
    base = BertForSequenceClassification.from_pretrained(BUILTIN, num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    peft_model = PeftModel.from_pretrained(base, str(out / "adapter")).eval()
    ids = torch.randint(5, 1000, (3, 12))
    with torch.no_grad():
        ours = session.model.eval()(input_ids=ids).logits
        theirs = peft_model(input_ids=ids).logits
    assert float((ours - theirs).abs().max()) < 1e-5


@pytest.mark.parametrize("method, options", [
    ("lora", {"r": 4, "alpha": 8, "targetModules": ["query", "value"]}),
    ("elora", {"rank": 16, "targetModules": ["query", "value", "inter", "out"]}),
    ("pm-frozen", {"rank": 2, "lambdaDInit": 0.1}),
    ("full", {"trainEmbeddings": False}),
    ("adalora", {"initR": 4, "targetR": 2, "loraAlpha": 8, "targetModules": ["query", "value"], "orthRegWeight": 0.5, "tinit": 0, "tfinal": 0, "deltaT": 1, "beta1": 0.85, "beta2": 0.85}),
])
def test_other_methods_train(tmp_path, method, options):
    config = project(tmp_path, method, options, rows=24)
    out = tmp_path / "out"
    result = train.run(train.parser().parse_args(["--config", str(config), "--model", BUILTIN, "--output-dir", str(out), "--max-steps", "3"]))
    summary = json.load(open(out / "summary.json"))
    assert summary["steps"] == 3 and summary["finalLoss"] > 0
    assert (out / ("model" if method == "full" else "adapter")).is_dir()
    if method == "adalora":  # PEFT's own save_pretrained: it must carry the trained head too
        adapter_config = json.load(open(out / "adapter" / "adapter_config.json"))
        assert adapter_config["modules_to_save"] == ["classifier"]
        from peft import PeftModel
        from transformers import BertForSequenceClassification

        base = BertForSequenceClassification.from_pretrained(BUILTIN, num_labels=2)
        peft_model = PeftModel.from_pretrained(base, str(out / "adapter")).eval()
        ids = torch.randint(5, 1000, (3, 12))
        with torch.no_grad():
            ours = result["session"].model.eval()(input_ids=ids).logits
            theirs = peft_model(input_ids=ids).logits
        assert float((ours - theirs).abs().max()) < 1e-5


def model_dir(tmp_path, family, strip=()):
    """A tests/fixtures/model-dirs folder (scripts/reference/model_dirs.py) with its tokenizer files, without the
    tensors under `strip` (a deberta-v3 checkpoint, LM-pretrained, has neither pooler nor classifier)."""
    from safetensors.torch import load_file, save_file

    source = os.path.join(REPO, "tests", "fixtures", "model-dirs", family)
    folder = tmp_path / family
    folder.mkdir()
    shutil.copy(os.path.join(source, "config.json"), folder)
    for path in json.load(open(os.path.join(source, "golden.json")))["tokenizerFiles"]:
        shutil.copy(os.path.join(REPO, path), folder)
    weights = {k: v for k, v in load_file(os.path.join(source, "model.safetensors")).items() if not k.startswith(tuple(strip))}
    save_file(weights, str(folder / "model.safetensors"))
    return str(folder)


def deberta_without_pooler(tmp_path):
    return model_dir(tmp_path, "deberta", ("pooler.", "classifier."))


def test_roberta_lora_run_exports_an_adapter_peft_loads_under_roberta_names(tmp_path):
    folder = model_dir(tmp_path, "roberta")
    config = project(tmp_path, "lora", {"r": 4, "alpha": 8, "targetModules": ["query", "value", "inter", "out"]}, rows=24)
    out = tmp_path / "out"
    result = train.run(train.parser().parse_args(["--config", str(config), "--model", folder, "--output-dir", str(out), "--max-steps", "4"]))
    adapter_config = json.load(open(out / "adapter" / "adapter_config.json"))
    assert adapter_config["modules_to_save"] == ["classifier"]
    assert "roberta.encoder.layer.1.output.dense" in adapter_config["target_modules"]
    rows = read_csv(out / "rank_log.csv")
    assert {(r["layer"], r["kind"]) for r in rows} == {(str(l), k) for l in range(2) for k in ("query", "value", "inter", "out")}

    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    peft_model = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2), str(out / "adapter")).eval()
    ids = torch.randint(5, 500, (3, 12))
    with torch.no_grad():
        ours = result["session"].model.eval()(input_ids=ids).logits
        theirs = peft_model(input_ids=ids).logits
    assert float((ours - theirs).abs().max()) < 1e-5


def test_deberta_without_pooler_trains_with_it_frozen_and_the_adapter_carries_it(tmp_path):
    model_dir = deberta_without_pooler(tmp_path)
    config = project(tmp_path, "aflora", AFLORA, rows=24)
    out = tmp_path / "out"
    result = train.run(train.parser().parse_args(["--config", str(config), "--model", model_dir, "--output-dir", str(out), "--dropout", "0"]))
    model = result["session"].model
    pooler = model.pooler.dense
    assert not pooler.weight.requires_grad and not pooler.bias.requires_grad  # frozen, as the engine keeps it
    assert float(pooler.weight.std()) == pytest.approx(0.02, rel=0.1) and float(pooler.bias.abs().max()) == 0  # the app's draw
    adapter_config = json.load(open(out / "adapter" / "adapter_config.json"))
    assert adapter_config["modules_to_save"] == ["classifier", "pooler"]
    assert adapter_config["target_modules"][0].startswith("deberta.encoder.layer.0.attention.self.query_proj")
    assert len(read_csv(out / "freeze_log.csv")) == 2 * 2 * 2

    # PEFT, on the same pooler-less checkpoint, gets the pooler from the file and computes the trained model's logits.
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    base = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    peft_model = PeftModel.from_pretrained(base, str(out / "adapter")).eval()
    ids = torch.randint(5, 1000, (3, 12))
    with torch.no_grad():
        ours = model.eval()(input_ids=ids).logits
        theirs = peft_model(input_ids=ids).logits
    assert float((ours - theirs).abs().max()) < 1e-5


def test_an_unsupported_model_type_is_refused_naming_the_supported_ones(tmp_path):
    folder = tmp_path / "albert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "albert"}), encoding="utf-8")
    with pytest.raises(SystemExit, match=r"'albert'.*BERT \('bert'\).*DistilBERT \('distilbert'\).*RoBERTa.*ELECTRA.*DeBERTa-v2/v3 \('deberta-v2'\)"):
        train.load_model(str(folder), None, 2, 0, None, torch.device("cpu"))
