"""The app's run config ("peft-playground/run" v1, src/worker/run-config.ts), parsed as strictly as parseRunConfig:
every field present, nothing unknown, every option inside its schema. The rules are not written here: schema.json
is generated from the TypeScript schemas (scripts/python/write-schema.ts)."""

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any, Dict, List, Optional

SCHEMA: Dict[str, Any] = json.loads(resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8"))


class RunConfigError(ValueError):
    """A run config that does not parse; `path` names the field (e.g. `recipe.epochs`)."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"run config: {path} {problem}")
        self.path = path


@dataclass(frozen=True)
class RunConfig:
    method: str
    options: Dict[str, Any]
    recipe: Dict[str, Any]
    model: Dict[str, Optional[str]]
    data: Dict[str, Any]
    raw: Dict[str, Any]

    @property
    def labels(self) -> List[str]:
        return self.data["labels"]

    @property
    def num_labels(self) -> int:
        return 1 if self.data["task"] == "regression" else len(self.data["labels"])


def _js(value: Any) -> str:
    return json.dumps(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def option_problem(spec: Dict[str, Any], value: Any) -> Optional[str]:
    """engine/options.ts optionProblem, on the portable spec."""
    kind = spec["kind"]
    if kind in ("int", "number"):
        if value is None:
            return None if spec.get("nullable") else "must be a number (got null)"
        if not _is_number(value) or not math.isfinite(value):
            return f"must be a finite number (got {value})"
        if kind == "int" and value != int(value):
            return f"must be an integer (got {value})"
        if value < spec["min"] or value > spec["max"]:
            return f"must be in [{spec['min']}, {spec['max']}] (got {value})"
        return None
    if kind == "bool":
        return None if isinstance(value, bool) else f"must be true or false (got {value})"
    choices = spec.get("choices", [])
    if kind == "enum":
        return None if value in choices else f"must be one of {', '.join(choices)} (got {value})"
    if kind == "multi":
        if not isinstance(value, list):
            return f"must be a list of {', '.join(choices)}"
        unknown = [v for v in value if v not in choices]
        if unknown:
            return f"has unknown entries {', '.join(map(str, unknown))} (known: {', '.join(choices)})"
        if len(set(value)) < spec["minCount"]:
            return f"must name at least {spec['minCount']} of {', '.join(choices)}"
        return None
    if kind == "span":
        if not (isinstance(value, dict) and set(value) == {"value", "unit"} and value["unit"] in ("steps", "epochs") and _is_number(value["value"])):
            return 'must be { value, unit: "steps" | "epochs" }'
        top = spec["max"][value["unit"]]
        if not math.isfinite(value["value"]) or value["value"] < 0 or value["value"] > top:
            return f"must be in [0, {top}] {value['unit']} (got {value['value']})"
        if value["unit"] == "steps" and value["value"] != int(value["value"]):
            return f"must be a whole number of steps (got {value['value']})"
        return None
    raise AssertionError(f"unknown option kind {kind}")


def parse_options(schema: List[Dict[str, Any]], raw: Any, what: str) -> Dict[str, Any]:
    """engine/options.ts parseOptions: every key of the schema present, none other, each valid."""
    if not isinstance(raw, dict):
        raise RunConfigError(what, "must be an object")
    known = [s["key"] for s in schema]
    for key in raw:
        if key not in known:
            raise RunConfigError(f"{what}.{key}", f"is not an option (known: {', '.join(known)})")
    out = {}
    for spec in schema:
        key = spec["key"]
        if key not in raw:
            raise RunConfigError(f"{what}.{key}", "is missing")
        problem = option_problem(spec, raw[key])
        if problem:
            raise RunConfigError(f"{what}.{key}", problem)
        value = raw[key]
        if spec["kind"] == "multi":  # canonical order: the schema's
            value = [c for c in spec["choices"] if c in value]
        if spec["kind"] == "int" and value is not None:
            value = int(value)
        out[key] = value
    return out


def _object(value: Any, path: str, keys: List[str]) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise RunConfigError(path, "must be an object")
    for key in value:
        if key not in keys:
            raise RunConfigError(path, f'has an unknown field "{key}" (known: {", ".join(keys)})')
    for key in keys:
        if key not in value:
            raise RunConfigError(key if path == "(run config)" else f"{path}.{key}", "is missing")
    return value


def _text(value: Any, path: str, nullable: bool = False) -> Optional[str]:
    if value is None and nullable:
        return None
    if not isinstance(value, str) or value == "":
        raise RunConfigError(path, "must be a non-empty string or null" if nullable else "must be a non-empty string")
    return value


def parse_run_config(raw: Any) -> RunConfig:
    """worker/run-config.ts parseRunConfig."""
    top = _object(raw, "(run config)", ["format", "version", "method", "recipe", "model", "data"])
    if top["format"] != SCHEMA["format"]:
        raise RunConfigError("format", f'must be "{SCHEMA["format"]}" (got {_js(top["format"])})')
    if top["version"] != SCHEMA["version"] or isinstance(top["version"], bool):
        raise RunConfigError("version", f'must be {SCHEMA["version"]} (got {_js(top["version"])})')
    method = _object(top["method"], "method", ["id", "options"])
    if not isinstance(method["id"], str) or method["id"] not in SCHEMA["methods"]:
        raise RunConfigError("method.id", f"is not a known method (got {_js(method['id'])})")
    model = _object(top["model"], "model", ["name", "hubId", "revision"])
    data = _object(top["data"], "data", ["name", "train", "validation", "columns", "task", "labels", "labelNames", "validationFraction", "validationSeed"])
    columns = _object(data["columns"], "data.columns", ["text", "textPair", "label"])
    if data["task"] not in ("classification", "regression"):
        raise RunConfigError("data.task", 'must be "classification" or "regression"')
    labels = data["labels"]
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise RunConfigError("data.labels", "must be a list of class names")
    if data["task"] == "classification" and len(labels) < 2:
        raise RunConfigError("data.labels", "must name at least two classes")
    if data["task"] == "regression" and labels:
        raise RunConfigError("data.labels", "must be empty for regression")
    names = data["labelNames"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RunConfigError("data.labelNames", "must be a list of names")
    if len(names) != len(labels):
        raise RunConfigError("data.labelNames", f"must name each of the {len(labels)} classes (got {len(names)})")
    if any(n.strip() == "" for n in names):
        raise RunConfigError("data.labelNames", "must not contain an empty name")
    twice = next((n for i, n in enumerate(names) if names.index(n) != i), None)
    if twice is not None:
        raise RunConfigError("data.labelNames", f'names "{twice}" twice: each class needs its own name')
    split = parse_options(SCHEMA["dataSplit"], {k: data[k] for k in ("validationFraction", "validationSeed")}, "data")
    return RunConfig(
        method=method["id"],
        options=parse_options(SCHEMA["methods"][method["id"]], method["options"], "method.options"),
        recipe=parse_options(SCHEMA["recipe"], top["recipe"], "recipe"),
        model={
            "name": _text(model["name"], "model.name"),
            "hubId": _text(model["hubId"], "model.hubId", True),
            "revision": _text(model["revision"], "model.revision", True),
        },
        data={
            "name": _text(data["name"], "data.name"),
            "train": _text(data["train"], "data.train"),
            "validation": _text(data["validation"], "data.validation", True),
            "columns": {
                "text": _text(columns["text"], "data.columns.text"),
                "textPair": _text(columns["textPair"], "data.columns.textPair", True),
                "label": _text(columns["label"], "data.columns.label"),
            },
            "task": data["task"],
            "labels": list(labels),
            "labelNames": list(names),
            **split,
        },
        raw=raw,
    )


def load_run_config(path: str) -> RunConfig:
    with open(path, encoding="utf-8") as f:
        try:
            raw = json.load(f)
        except json.JSONDecodeError as error:
            raise RunConfigError("(run config)", f"is not valid JSON ({error})") from error
    return parse_run_config(raw)


def resolve_options(method: str, overrides: Dict[str, Any], what: str = "method.options") -> Dict[str, Any]:
    """The method's complete options: `overrides` over its schema defaults (methods/catalog.ts methodOptions)."""
    schema = SCHEMA["methods"][method]
    return parse_options(schema, {**{s["key"]: s["default"] for s in schema}, **overrides}, what)
