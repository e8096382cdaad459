"""The app's adapter methods on a transformers *ForSequenceClassification of any family the app loads (src/methods/*, same names,
parameter groups). LoRA is PEFT's own LoraModel. AFLoRA, its PM ablations and ELoRA share one module of their own,
y = W0 x + b0 + Λb ⊙ (B (Λd ⊙ (A x))), because PEFT has no AFLoRA, and PEFT's VeRA shares one random pair across
layers where ELoRA keeps one per layer. Full fine-tuning trains the base weights.

Initial values: `initial` (engine names) where given, else the app's seeded PRNG by variable name (rng.py), so a
run here starts where the browser's does."""

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import SCHEMA
from .rng import Rng, kaiming_uniform, variable_rng

# Every model family the app runs, by id (src/engine/families.ts, through schema.json): module names per layer, the
# trained task head, frozen modules a checkpoint may lack.
FAMILIES: Dict[str, dict] = SCHEMA["families"]
MODULE_KINDS = list(FAMILIES["bert"]["moduleSuffix"])
FFN_KINDS = ["inter", "out"]
ATTENTION_KINDS = ["query", "key", "value", "attn_out"]
MATRIX_SCOPES = {"ffn": FFN_KINDS, "attention": ATTENTION_KINDS, "both": MODULE_KINDS}
PEFT_PREFIX = "base_model.model."
# The app's methods this package runs (a method added to the app's catalog is refused with a clear message
# until it is added here).
SUPPORTED = ("aflora", "pm-trainable", "pm-frozen", "lora", "elora", "full", "adalora")


def supported_families_text() -> str:
    return ", ".join(f"{f['label']} ({', '.join(repr(t) for t in f['modelTypes'])})" for f in FAMILIES.values())


def family_of(model_or_type) -> dict:
    """The family of a model (its config's model_type) or of a model_type; a clear error for any other."""
    model_type = model_or_type if isinstance(model_or_type, str) else model_or_type.config.model_type
    for family in FAMILIES.values():
        if model_type in family["modelTypes"]:
            return family
    raise ValueError(f"model_type {model_type!r} is not a family the playground runs: use one of {supported_families_text()}")


def module_path(layer: int, kind: str, family: Optional[dict] = None) -> str:
    """Layer `layer`'s `kind` linear, e.g. bert.encoder.layer.3.attention.self.query (BERT unless told)."""
    family = family or FAMILIES["bert"]
    return f"{family['layers']}.{layer}.{family['moduleSuffix'][kind]}"


def parse_module_path(path: str):
    """(layer, kind) of an adapted linear's path in any family (`distilbert.transformer.layer.1.ffn.lin1` -> (1,
    'inter')), or None for anything else (engine/families.ts parseModulePath)."""
    for family in FAMILIES.values():
        prefix = family["layers"] + "."
        if path.startswith(prefix):
            layer, _, suffix = path[len(prefix) :].partition(".")
            kind = next((k for k, v in family["moduleSuffix"].items() if v == suffix), None)
            if layer.isdigit() and kind:
                return int(layer), kind
    return None


def model_inputs(model: nn.Module, rows: dict) -> dict:
    """The forward's keyword inputs: token types only for a family that has them (DistilBERT's forward takes none)."""
    keys = ("input_ids", "attention_mask", "token_type_ids") if family_of(model)["tokenTypes"] else ("input_ids", "attention_mask")
    return {k: rows[k] for k in keys}


def head_modules(model: nn.Module) -> Dict[str, nn.Module]:
    """The family's trained task head by module path (classifier; DistilBERT's pre_classifier too), PEFT's
    modules_to_save copy where PEFT wraps it."""
    out = {}
    for path in family_of(model)["headModules"]:
        module = get_module(model, path)
        if hasattr(module, "modules_to_save"):
            module = module.modules_to_save["default"]
        out[path] = module
    return out


def head_params(model: nn.Module) -> Dict[str, nn.Parameter]:
    """{state-dict name: Parameter} of the trained head: `classifier.weight`, `pre_classifier.bias`, ..."""
    return {f"{path}.{leaf}": p for path, module in head_modules(model).items() for leaf, p in module.named_parameters()}


def get_module(root: nn.Module, path: str) -> nn.Module:
    for part in path.split("."):
        root = getattr(root, part)
    return root


def set_module(root: nn.Module, path: str, new: nn.Module) -> None:
    parent, _, leaf = path.rpartition(".")
    setattr(get_module(root, parent), leaf, new)


class ScaledLowRankLinear(nn.Module):
    """The AFLoRA / ELoRA module: y = W0 x + b0 + Λb ⊙ (B (Λd ⊙ (A x))), no alpha / r scaling."""

    def __init__(self, base: nn.Linear, a: torch.Tensor, b: torch.Tensor, d: torch.Tensor, b_vec: torch.Tensor, dropout: float = 0.0):
        super().__init__()
        self.base = base
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()  # PEFT's lora_dropout, adapter input only
        self.lora_A = nn.Parameter(a)  # [r, in]
        self.lora_B = nn.Parameter(b)  # [out, r]
        self.lambda_d = nn.Parameter(d)  # [r]
        self.lambda_b = nn.Parameter(b_vec)  # [out]

    def forward(self, x):
        down = F.linear(self.dropout(x), self.lora_A) * self.lambda_d  # [..., r]
        return self.base(x) + F.linear(down, self.lora_B) * self.lambda_b  # [..., out]


@dataclass
class Adapter:
    """What a method adds to the model: its variables by engine name and which of them train from step 0."""

    method: str
    options: dict
    variables: Dict[str, nn.Parameter]
    trainable: List[str]
    # Engine name -> whether the variable takes weight decay (methods' `decays`; base weights of full FT).
    decays: Dict[str, bool] = field(default_factory=dict)
    # For PEFT's LoRA: the PeftModel that wraps the model.
    peft_model: Optional[nn.Module] = None
    modules: List[str] = field(default_factory=list)


class Init:
    """Initial values: given ones by name, else the app's seeded PRNG."""

    def __init__(self, seed: int, initial: Optional[Dict[str, torch.Tensor]]):
        self.seed = seed
        self.initial = initial or {}
        self.used = set()

    def __call__(self, name: str, shape, draw: Callable[[Rng, int], "object"]) -> torch.Tensor:
        size = math.prod(shape)
        if name in self.initial:
            value = self.initial[name].detach().to(torch.float32).clone()
            if value.numel() != size:
                raise ValueError(f"initial value of {name} has {value.numel()} values, expected {list(shape)}")
            self.used.add(name)
            return value.reshape(shape).contiguous()
        return torch.from_numpy(draw(variable_rng(self.seed, name), size)).reshape(shape).clone()


def _zeros(_rng, n):
    import numpy as np

    return np.zeros(n, dtype=np.float32)


def _full(v):
    def draw(_rng, n):
        import numpy as np

        return np.full(n, v, dtype=np.float32)

    return draw


def _scaled_modules(model, layers, kinds, rank, init: Init, a_gain: float, b_fan_rank: bool, lambda_d: float, ab_trainable, dropout: float = 0.0):
    variables, trainable, modules = {}, [], []
    family = family_of(model)
    for layer in range(layers):
        for kind in kinds:
            path = module_path(layer, kind, family)
            base = get_module(model, path)
            out_f, in_f = base.weight.shape
            a = init(f"{path}.lora_A", (rank, in_f), lambda g, n: kaiming_uniform(g, n, in_f, a_gain))
            b = init(f"{path}.lora_B", (out_f, rank), lambda g, n: kaiming_uniform(g, n, rank if b_fan_rank else in_f, a_gain))
            d = init(f"{path}.lambda_d", (rank,), _full(lambda_d))
            bv = init(f"{path}.lambda_b", (out_f,), _zeros)
            wrapped = ScaledLowRankLinear(base, a.to(base.weight.device), b.to(base.weight.device), d.to(base.weight.device), bv.to(base.weight.device), dropout)
            set_module(model, path, wrapped)
            modules.append(path)
            for leaf in ("lora_A", "lora_B", "lambda_d", "lambda_b"):
                name = f"{path}.{leaf}"
                variables[name] = getattr(wrapped, leaf)
                if leaf.startswith("lambda") or ab_trainable(kind):
                    trainable.append(name)
    return variables, trainable, modules


def elora_rank(hidden: int, rank: int) -> int:
    """methods/elora eloraEffectiveRank: the paper's 1024 is for hidden 768; capped at 4 x hidden size."""
    return min(rank, 4 * hidden)


def attach(model: nn.Module, method: str, options: dict, seed: int, initial=None, total_steps: Optional[int] = None) -> Adapter:
    """Adds the method to `model` (in place; LoRA wraps it in PEFT) and sets requires_grad: base frozen, the
    method's step-0 trainables and the classifier trainable."""
    if method not in SUPPORTED:
        raise NotImplementedError(f'method "{method}" is in the app but not yet in peft_playground (supported: {", ".join(SUPPORTED)})')
    cfg = model.config
    family_of(model)  # refuses a model no family describes
    layers = cfg.num_hidden_layers
    init = Init(seed, initial)
    for p in model.parameters():
        p.requires_grad_(False)
    if method in ("aflora", "pm-trainable", "pm-frozen"):
        scope = [] if method == "pm-frozen" else MATRIX_SCOPES[options["trainableMatrices"]]
        variables, trainable, modules = _scaled_modules(
            model, layers, MODULE_KINDS, options["rank"], init, 0.0, True, options["lambdaDInit"], lambda k: k in scope, options["loraDropout"]
        )
        adapter = Adapter(method, options, variables, trainable, {n: True for n in variables}, modules=modules)
    elif method == "elora":
        r = elora_rank(cfg.hidden_size, options["rank"])
        variables, trainable, modules = _scaled_modules(model, layers, options["targetModules"], r, init, 0.0, True, 0.1, lambda k: False)  # official module's init: Kaiming a = 0
        adapter = Adapter(method, options, variables, trainable, {n: True for n in variables}, modules=modules)
    elif method == "lora":
        adapter = _attach_lora(model, options, init, layers)
    elif method == "adalora":
        adapter = _attach_adalora(model, options, init, layers, total_steps)
    elif method == "full":
        head, embeddings = head_params(model), family_of(model)["embeddingMatrices"]
        variables = {n: p for n, p in model.named_parameters() if n not in head and (options["trainEmbeddings"] or n not in embeddings)}
        decays = {n: not (n.endswith(".bias") or "LayerNorm" in n) for n in variables}
        adapter = Adapter(method, options, variables, list(variables), decays)
    else:
        raise ValueError(f"unknown method {method}")
    for name in adapter.trainable:
        adapter.variables[name].requires_grad_(True)
    head = head_params(model)
    for p in head.values():
        p.requires_grad_(True)
    unused = set(init.initial) - init.used - set(saved_params(model))
    if unused:
        raise ValueError(f"initial values for variables this method does not have: {sorted(unused)[:5]}")
    return adapter


def _attach_lora(model, options, init: Init, layers) -> Adapter:
    from peft import LoraConfig, get_peft_model

    kinds, family = options["targetModules"], family_of(model)
    paths = [module_path(l, k, family) for l in range(layers) for k in kinds]
    # Full paths: PEFT matches by equality or "."-suffix; the suffix "output.dense" alone would also catch
    # attention.output.dense.
    config = LoraConfig(r=options["r"], lora_alpha=options["alpha"], target_modules=paths, lora_dropout=options["loraDropout"], bias="none")
    peft_model = get_peft_model(model, config)
    variables = {}
    with torch.no_grad():
        for path in paths:
            layer = get_module(model, path)
            a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight  # [r, in], [out, r]
            in_f = a.shape[1]
            a.copy_(init(f"{path}.lora_A", tuple(a.shape), lambda g, n: kaiming_uniform(g, n, in_f, math.sqrt(5.0))))
            b.copy_(init(f"{path}.lora_B", tuple(b.shape), _zeros))
            variables[f"{path}.lora_A"], variables[f"{path}.lora_B"] = a, b
    return Adapter("lora", options, variables, list(variables), {n: True for n in variables}, peft_model=peft_model, modules=paths)


def _attach_adalora(model, options, init: Init, layers, total_steps) -> Adapter:
    """PEFT's own AdaLoRA (SVD form, RankAllocator, cubic budget); its schedule needs the run's total steps. Initial
    values by the app's names where given (fixtures, --init), else PEFT's own init."""
    from peft import AdaLoraConfig, get_peft_model

    if total_steps is None:
        raise ValueError("AdaLoRA needs the run's total steps (its budget schedule)")
    paths = [module_path(l, k, family_of(model)) for l in range(layers) for k in options["targetModules"]]
    config = AdaLoraConfig(
        init_r=options["initR"], target_r=options["targetR"], lora_alpha=options["loraAlpha"], target_modules=paths, lora_dropout=0.0,
        orth_reg_weight=options["orthRegWeight"], tinit=options["tinit"], tfinal=options["tfinal"], deltaT=options["deltaT"],
        beta1=options["beta1"], beta2=options["beta2"], total_step=total_steps,
        # The trained head (and a drawn pooler) go into PEFT's save_pretrained, else the adapter loads onto a random head.
        modules_to_save=saved_modules(model),
    )
    peft_model = get_peft_model(model, config)
    head = set(family_of(model)["headModules"])
    for path in saved_modules(model):
        if path not in head:  # PEFT makes every saved copy trainable; the pooler stays frozen, as in the app
            get_module(model, path).requires_grad_(False)
    variables = {}
    with torch.no_grad():
        for path in paths:
            layer = get_module(model, path)
            for leaf in ("lora_A", "lora_E", "lora_B"):
                p = getattr(layer, leaf)["default"]
                name = f"{path}.{leaf}"
                if name in init.initial:
                    p.copy_(init(name, tuple(p.shape), None))
                variables[name] = p
    return Adapter("adalora", options, variables, list(variables), {n: True for n in variables}, peft_model=peft_model, modules=paths)


def orthogonal_regularizer(adapter: Adapter) -> torch.Tensor:
    """PEFT's AdaLoraModel.forward term: mean over A and B of ||P P^T - I||_F (A) / ||P^T P - I||_F (B), not squared."""
    total, count = 0.0, 0
    for name, p in adapter.variables.items():
        if name.endswith((".lora_A", ".lora_B")):
            cov = p @ p.T if name.endswith(".lora_A") else p.T @ p
            total = total + torch.norm(cov - torch.eye(*cov.size(), device=cov.device, dtype=cov.dtype), p="fro")
            count += 1
    return total / max(1, count)


def init_head(model: nn.Module, seed: int, names: List[str]) -> None:
    """engine/weights.ts initHeadTensor for head tensors the checkpoint lacks: weight ~ N(0, 0.02), bias 0."""
    with torch.no_grad():
        params = dict(model.named_parameters())
        for name in names:
            p = params[name]
            if name.endswith(".bias"):
                p.zero_()
            else:
                p.copy_(torch.from_numpy(variable_rng(seed, name).normal_array(p.numel(), 0.02)).reshape(p.shape))


def param_groups(adapter: Adapter, model: nn.Module, recipe: dict):
    """The reference trainer's groups (docs/engine.md): adapter variables lr adapterLr and weightDecay where they
    decay; the head's weights (classifier, DistilBERT's pre_classifier, RoBERTa's classifier.dense / out_proj)
    classifierLr / classifierWeightDecay; its biases classifierLr, no decay."""
    decayed = [adapter.variables[n] for n in adapter.trainable if adapter.decays.get(n, True)]
    plain = [adapter.variables[n] for n in adapter.trainable if not adapter.decays.get(n, True)]
    head = head_params(model)
    groups = [
        {"params": decayed, "lr": recipe["adapterLr"], "weight_decay": recipe["weightDecay"]},
        {"params": plain, "lr": recipe["adapterLr"], "weight_decay": 0.0},
        {"params": [p for n, p in head.items() if not n.endswith(".bias")], "lr": recipe["classifierLr"], "weight_decay": recipe["classifierWeightDecay"]},
        {"params": [p for n, p in head.items() if n.endswith(".bias")], "lr": recipe["classifierLr"], "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


def fold_lambdas(b: torch.Tensor, lambda_b: torch.Tensor, lambda_d: torch.Tensor) -> torch.Tensor:
    """B' = diag(Λb) · B · diag(Λd): [out, r] (io/export/peft.ts foldLambdas)."""
    return lambda_b[:, None] * b * lambda_d[None, :]


def peft_adapter(adapter: Adapter, model: nn.Module, base_model: str):
    """(adapter_config, tensors) in PEFT's LoRA format, as the app's exportPeftAdapter writes them: Λd / Λb folded
    into B with lora_alpha = r (scaling 1); plain LoRA keeps its alpha. None for full fine-tuning."""
    if adapter.method in ("full", "adalora"):  # adalora: PEFT's own save_pretrained (ADALORA format)
        return None
    tensors, rank = {}, None
    for path in adapter.modules:
        v = {leaf: adapter.variables[f"{path}.{leaf}"].detach().float().cpu() for leaf in ("lora_A", "lora_B")}
        b = v["lora_B"]
        if f"{path}.lambda_d" in adapter.variables:
            b = fold_lambdas(b, adapter.variables[f"{path}.lambda_b"].detach().float().cpu(), adapter.variables[f"{path}.lambda_d"].detach().float().cpu())
        tensors[f"{PEFT_PREFIX}{path}.lora_A.weight"] = v["lora_A"].contiguous()
        tensors[f"{PEFT_PREFIX}{path}.lora_B.weight"] = b.contiguous()
        rank = v["lora_A"].shape[0]
    saved = saved_modules(model)
    for name, p in saved_params(model).items():
        tensors[f"{PEFT_PREFIX}{name}"] = p.detach().float().cpu().contiguous()
    alpha = adapter.options["alpha"] if adapter.method == "lora" else rank
    config = {
        "peft_type": "LORA",
        "task_type": "SEQ_CLS",
        "base_model_name_or_path": base_model,
        "lora_dropout": 0,
        "target_modules": list(adapter.modules),
        "modules_to_save": saved,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "layers_to_transform": None,
        "layers_pattern": None,
        "revision": None,
        "r": rank,
        "lora_alpha": alpha,
        "rank_pattern": {},
        "alpha_pattern": {},
    }
    return config, tensors


def saved_modules(model: nn.Module) -> List[str]:
    """PEFT's modules_to_save, as the app's export lists them: the head, and the family's optional frozen modules
    (BERT's pooler, DeBERTa's ContextPooler) where the checkpoint lacked them and init_head drew them (marked by
    load_model), else PEFT would draw its own."""
    fresh = getattr(model, "playground_fresh_modules", [])
    return sorted([*family_of(model)["headModules"], *(m for m in family_of(model)["optionalModules"] if m in fresh)])


def saved_params(model: nn.Module) -> Dict[str, nn.Parameter]:
    """{state-dict name: Parameter} of saved_modules (the trained copies where PEFT wraps the head)."""
    out = dict(head_params(model))
    for path in saved_modules(model):
        if path not in family_of(model)["headModules"]:
            out.update({f"{path}.{leaf}": p for leaf, p in get_module(model, path).named_parameters()})
    return out
