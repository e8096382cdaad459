"""Run configs parse as strictly as the app's parseRunConfig (the rules come from schema.json, generated from the
TypeScript schemas)."""

import copy
import glob
import json
import os

import pytest

from conftest import RUN_CONFIGS
from peft_playground.config import RunConfigError, parse_run_config, resolve_options

FIXTURES = sorted(glob.glob(os.path.join(RUN_CONFIGS, "*.json")))


def load(name="aflora.json"):
    return json.load(open(os.path.join(RUN_CONFIGS, name)))


@pytest.mark.parametrize("path", FIXTURES, ids=os.path.basename)
def test_fixture_configs_parse_unchanged(path):
    raw = json.load(open(path))
    config = parse_run_config(raw)
    assert config.method == raw["method"]["id"]
    assert config.options == raw["method"]["options"]
    assert config.recipe == raw["recipe"]
    assert config.data == raw["data"] and config.model == raw["model"]


def broken(edit):
    raw = load()
    edit(raw)
    return raw


@pytest.mark.parametrize(
    "edit, path, words",
    [
        (lambda r: r.update(format="x"), "format", 'must be "peft-playground/run"'),
        (lambda r: r.update(version=2), "version", "must be 1"),
        (lambda r: r.update(extra=1), "(run config)", 'unknown field "extra"'),
        (lambda r: r["method"].update(id="dora"), "method.id", "is not a known method"),
        (lambda r: r["method"]["options"].pop("rank"), "method.options.rank", "is missing"),
        (lambda r: r["method"]["options"].update(rank=0), "method.options.rank", "must be in [1, 64]"),
        (lambda r: r["method"]["options"].update(rank=2.5), "method.options.rank", "must be an integer"),
        (lambda r: r["method"]["options"].update(sensitivity="abs"), "method.options.sensitivity", "must be one of grad"),
        (lambda r: r["method"]["options"].update(freezeTogether=1), "method.options.freezeTogether", "must be true or false"),
        (lambda r: r["method"]["options"].update(bogus=1), "method.options.bogus", "is not an option"),
        (lambda r: r["recipe"].update(epochs=None), "recipe.epochs", "must be a number (got null)"),
        (lambda r: r["recipe"].update(batchSize=10**6), "recipe.batchSize", "must be in"),
        (lambda r: r["data"].update(task="ranking"), "data.task", "must be"),
        (lambda r: r["data"].update(labels=["only"]), "data.labels", "at least two"),
        (lambda r: r["data"]["columns"].update(text=""), "data.columns.text", "non-empty string"),
        (lambda r: r["data"].update(validationFraction=0.9), "data.validationFraction", "must be in"),
        (lambda r: r["model"].pop("revision"), "model.revision", "is missing"),
        (lambda r: r["data"].update(labelNames=["a"]), "data.labelNames", "must name each of the 2 classes"),
        (lambda r: r["data"].update(labelNames=["a", "a"]), "data.labelNames", 'names "a" twice'),
    ],
)
def test_bad_configs_name_the_field(edit, path, words):
    with pytest.raises(RunConfigError) as error:
        parse_run_config(broken(edit))
    assert error.value.path == path
    assert words in str(error.value)


def test_multi_select_in_schema_order_and_defaults_resolve():
    options = resolve_options("lora", {"targetModules": ["value", "query"]})
    assert options == {"r": 8, "alpha": 16, "targetModules": ["query", "value"], "loraDropout": 0}
    with pytest.raises(RunConfigError):
        resolve_options("lora", {"targetModules": []})


def test_supported_methods_are_the_apps():
    from peft_playground.config import SCHEMA
    from peft_playground.methods import SUPPORTED

    assert set(SUPPORTED) <= set(SCHEMA["methods"])
    assert {"aflora", "pm-trainable", "pm-frozen", "lora", "elora", "full"} <= set(SUPPORTED)
