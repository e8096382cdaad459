#!/usr/bin/env python3
"""Golden fixtures for the TypeScript engine and methods, from PyTorch + transformers (+ PEFT for LoRA).

    python3 scripts/reference/make_golden.py tests/fixtures/golden
    python3 scripts/reference/make_golden.py tests/fixtures/golden-<family> --family distilbert|roberta|electra

Needs python3 + torch + transformers + peft + safetensors + numpy; runs on the CPU in float32 with
deterministic algorithms (a few seconds). The format is docs/fixture-format.md. Writes into <outdir>:
    model/config.json, model/model.safetensors      seeded small BertForSequenceClassification
    <case>.safetensors + <case>.json                aflora, aflora_both_pxg, lora, elora, aflora_regression,
                                                    aflora_adamw_hf (AFLoRA under transformers 4.31's AdamW)
With --family (and deberta_golden.py for DeBERTa-v2) the same recipe on that family's tiny seeded model (FAMILIES):
    model/, aflora.* (defaults, 80 steps), lora.* (r 8 / alpha 16 on all six linears, 80 steps), each case also
    holding probe.*: one forward + backward with lambda_b / lora_B off zero, where every gradient is non-zero.

AFLoRA here is an implementation of its own, written from the reference code's behaviour
(zeyuliu1037/AFLoRA glue/utils.py Pruner + glue/trainer.py), in the reference's order of operations:
after backward and BEFORE clipping / the optimizer step of step t, the scores are updated with step t's raw
gradients and (on masking steps) tensors are frozen by setting requires_grad = False. A tensor frozen at
step t still takes step t's update (its .grad exists), and none after (zero_grad(set_to_none) leaves
.grad None, which AdamW skips). The TypeScript method decides after the optimizer step; both must agree.
"""

import argparse
import json
import math
import os
import re
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import BertConfig, BertForSequenceClassification

MODEL_SEED = 1234
DATA_SEED = 4321
HIDDEN = 64
LAYERS = 2
HEADS = 4
INTERMEDIATE = 128
VOCAB = 500
MAX_POS = 64
PAD_ID, CLS_ID, SEP_ID = 0, 2, 3

# Training recipe shared by every case (reference: AdamW, linear warm-up 6 % then linear decay, clip 0.1,
# weight decay 0.1 on everything but the classifier bias; CoLA's learning rates).
RECIPE = {
    "totalSteps": 80,
    "epochs": 8,
    "batchSize": 8,
    "seqLen": 16,
    "numBatches": 4,
    "adapterLr": 1e-2,
    "classifierLr": 4e-2,
    "weightDecay": 0.1,
    "classifierWeightDecay": 0.1,
    "warmupRatio": 0.06,
    "maxGradNorm": 0.1,
    "adamBeta1": 0.9,
    "adamBeta2": 0.999,
    "adamEps": 1e-8,
    "optimizer": "adamw_torch",
}

MODULE_SUFFIX = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attn_out": "attention.output.dense",
    "inter": "intermediate.dense",
    "out": "output.dense",
}
MODULE_KINDS = list(MODULE_SUFFIX)
FFN_KINDS = ["inter", "out"]
ATTENTION_KINDS = ["query", "key", "value", "attn_out"]

AFLORA_DEFAULTS = {
    "rank": 4,
    "trainableMatrices": "ffn",
    "sensitivity": "grad",
    "freezeTogether": False,
    "beta1": 0.85,
    "beta2": 0.95,
    "deltaT": 10,
    # t_i, t_f in steps: 1 epoch of warm-up, then a ramp of 5 masking rounds (steps 20..60), then 20 steps
    # of "freeze everything left" (the reference freezes every step after T - t_f).
    "initialWarmup": 10,
    "finalWarmup": 20,
}

# Relative margin between every freeze decision's score and its threshold; a seed that comes closer is
# rejected so float32 differences between PyTorch and TF.js cannot flip a decision.
MIN_REL_MARGIN = 1e-3
PREFERRED_REL_MARGIN = 1e-2


def log(msg):
    print(msg, flush=True)


def module_path(layer, kind, family=None):
    family = family or BERT
    return f"{family.layers}.{layer}.{family.suffix[kind]}"


def get_module(root, path):
    mod = root
    for part in path.split("."):
        mod = getattr(mod, part)
    return mod


def set_module(root, path, new):
    parent_path, _, leaf = path.rpartition(".")
    setattr(get_module(root, parent_path), leaf, new)


# ----------------------------------------------------------------------------------------------- model + data


def make_config(num_labels):
    return BertConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=INTERMEDIATE,
        max_position_embeddings=MAX_POS,
        type_vocab_size=2,
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        layer_norm_eps=1e-12,
        initializer_range=0.02,
        pad_token_id=PAD_ID,
        num_labels=num_labels,
    )


def base_state():
    """The classification model's parameters (float32), seeded. Buffers (position_ids) are left out."""
    torch.manual_seed(MODEL_SEED)
    model = BertForSequenceClassification(make_config(2))
    # Give the pooler / classifier biases and LayerNorms non-trivial values so the tests exercise them.
    gen = torch.Generator().manual_seed(MODEL_SEED + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(torch.randn(p.shape, generator=gen) * 0.02)
    return {n: p.detach().clone().contiguous() for n, p in model.named_parameters()}


def build_model(state, num_labels, classifier_seed, family=None):
    """The family's model with `state` (BERT by default), its base frozen and its task head trainable."""
    return (family or BERT).build(state, num_labels, classifier_seed)


def build_bert(state, num_labels, classifier_seed):
    """A fresh model with the base weights of `state`; num_labels = 1 gets a seeded new classifier."""
    model = BertForSequenceClassification(make_config(num_labels))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("classifier.") and num_labels != 2:
                gen = torch.Generator().manual_seed(classifier_seed)
                bound = 1.0 / math.sqrt(HIDDEN)
                p.copy_(torch.empty(p.shape).uniform_(-bound, bound, generator=gen))
            else:
                assert state[name].shape == p.shape, name
                p.copy_(state[name])
    model.eval()  # dropout is 0 anyway; eval() makes it explicit
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.classifier.parameters():
        p.requires_grad_(True)
    return model


# ----------------------------------------------------------------------------------------------- families
# One reference for every encoder family the engine runs: the cases below build their model, name their modules
# and feed their batches through a Family (BERT's fixtures are the default; deberta_golden.py and the other
# families' fixtures pass theirs).


class Family:
    """An encoder family as the reference sees it: transformers config + class, module names, trained head."""

    def __init__(self, id, config, model_class, layers, suffix, head, model_seed, token_types=True, pad_id=PAD_ID, build=None,
                 aflora_recipe=None):
        self.id = id
        self.config = config  # num_labels -> transformers config (tiny, dropout 0)
        self.model_class = model_class
        self.layers = layers  # module path above layer i: "bert.encoder.layer"
        self.suffix = suffix  # role -> linear under a layer
        self.head = head  # top-level modules the engine trains with the classifier lr
        self.model_seed = model_seed
        self.token_types = token_types
        self.pad_id = pad_id
        self.build = build or self.build_seeded
        self.aflora_recipe = aflora_recipe or {}  # changes to RECIPE for this family's aflora case

    def feed(self, batches, b):
        """Keyword inputs of batch b (int64 tensors [numBatches, batch, seq]); DistilBERT takes no token types."""
        kwargs = {"input_ids": batches["input_ids"][b], "attention_mask": batches["attention_mask"][b]}
        if self.id != "distilbert":
            kwargs["token_type_ids"] = batches["token_type_ids"][b]
        return kwargs

    def seeded_state(self, config=None, seed=None):
        """The family's seeded random weights (its config and seed unless given): biases and LayerNorms nudged off
        their init, DeBERTa's relative embeddings large enough that the position terms move the logits."""
        seed = self.model_seed if seed is None else seed
        torch.manual_seed(seed)
        model = self.model_class(config or self.config(2))
        gen = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name:
                    p.add_(torch.randn(p.shape, generator=gen) * 0.02)
                elif "rel_embeddings" in name:
                    p.normal_(0.0, 0.5, generator=gen)
        return {n: p.detach().clone().contiguous() for n, p in model.named_parameters()}

    def build_seeded(self, state, num_labels, classifier_seed):
        assert num_labels == 2, f"the {self.id} fixtures are classification only"
        model = self.model_class(self.config(num_labels))
        missing, unexpected = model.load_state_dict(state, strict=False)
        assert not unexpected and all("position_ids" in m for m in missing), (missing, unexpected)
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        for p in head_params(model, self).values():
            p.requires_grad_(True)
        return model


def tiny(config_class, **kwargs):
    """A family config at the fixtures' sizes (hidden 32, 2 layers, 4 heads, FFN 64, vocab 500), dropout 0,
    initializer_range 0.1 (larger than pretrained models use: rows and logits differ visibly)."""
    def make(num_labels):
        return config_class(
            vocab_size=VOCAB,
            max_position_embeddings=MAX_POS,
            initializer_range=0.1,
            num_labels=num_labels,
            **kwargs,
        )
    return make


BERT_LIKE = dict(hidden_size=32, num_hidden_layers=LAYERS, num_attention_heads=4, intermediate_size=64, hidden_act="gelu",
                 hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def _families():
    from transformers import (
        DebertaV2Config,
        DebertaV2ForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
        ElectraConfig,
        ElectraForSequenceClassification,
        RobertaConfig,
        RobertaForSequenceClassification,
    )

    distilbert_suffix = {"query": "attention.q_lin", "key": "attention.k_lin", "value": "attention.v_lin",
                         "attn_out": "attention.out_lin", "inter": "ffn.lin1", "out": "ffn.lin2"}
    deberta_suffix = {**MODULE_SUFFIX, "query": "attention.self.query_proj", "key": "attention.self.key_proj",
                      "value": "attention.self.value_proj"}
    families = [
        Family("bert", make_config, BertForSequenceClassification, "bert.encoder.layer", MODULE_SUFFIX, ["classifier"],
               MODEL_SEED, build=build_bert),
        # pre_classifier is new in every base checkpoint: the engine trains it with the classifier.
        Family("distilbert", tiny(DistilBertConfig, dim=32, n_layers=LAYERS, n_heads=4, hidden_dim=64, activation="gelu",
                                  dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0, pad_token_id=PAD_ID),
               DistilBertForSequenceClassification, "distilbert.transformer.layer", distilbert_suffix,
               ["pre_classifier", "classifier"], 3456, token_types=False),
        # As the Hub's checkpoints: pad id 1 (positions count from padding_idx + 1), one token type, eps 1e-5.
        Family("roberta", tiny(RobertaConfig, pad_token_id=1, bos_token_id=0, eos_token_id=2, type_vocab_size=1,
                               layer_norm_eps=1e-5, classifier_dropout=0.0, **BERT_LIKE),
               RobertaForSequenceClassification, "roberta.encoder.layer", MODULE_SUFFIX, ["classifier"], 4567,
               token_types=False, pad_id=1, aflora_recipe={"classifierLr": 1e-2}),
        # embedding_size 16 != hidden 32: electra.embeddings_project runs, as in electra-small.
        Family("electra", tiny(ElectraConfig, embedding_size=16, type_vocab_size=2, classifier_dropout=0.0,
                               pad_token_id=PAD_ID, **BERT_LIKE),
               ElectraForSequenceClassification, "electra.encoder.layer", MODULE_SUFFIX, ["classifier"], 5678),
        # deberta-v3-xsmall's config.json with tiny sizes (position_buckets 8 over 16 tokens: log buckets used).
        # The engine keeps the ContextPooler frozen (as the official AFLoRA runs: modules_to_save ["classifier"]).
        Family("deberta-v2", tiny(DebertaV2Config, hidden_size=32, num_hidden_layers=LAYERS, num_attention_heads=4,
                                  intermediate_size=64, hidden_act="gelu", hidden_dropout_prob=0.0,
                                  attention_probs_dropout_prob=0.0, type_vocab_size=0, layer_norm_eps=1e-7,
                                  relative_attention=True, max_relative_positions=-1, position_buckets=8,
                                  norm_rel_ebd="layer_norm", share_att_key=True, pos_att_type=["p2c", "c2p"],
                                  position_biased_input=False, pad_token_id=PAD_ID, pooler_hidden_size=32,
                                  pooler_dropout=0, pooler_hidden_act="gelu"),
               DebertaV2ForSequenceClassification, "deberta.encoder.layer", deberta_suffix, ["classifier"], 2345),
    ]
    return {f.id: f for f in families}


FAMILIES = _families()
BERT = FAMILIES["bert"]


def make_batches(regression, family=None):
    """int32 [numBatches, batch, seq] ids / token types / mask with padded rows, labels [numBatches, batch].
    A family without token types gets zeros; pads are the family's pad id (RoBERTa's positions count non-pads)."""
    family = family or BERT
    rng = np.random.default_rng(DATA_SEED + (1 if regression else 0))
    nb, bs, seq = RECIPE["numBatches"], RECIPE["batchSize"], RECIPE["seqLen"]
    ids = np.zeros((nb, bs, seq), dtype=np.int32)
    types = np.zeros((nb, bs, seq), dtype=np.int32)
    mask = np.zeros((nb, bs, seq), dtype=np.int32)
    for b in range(nb):
        for r in range(bs):
            # Row 0 of each batch is full length, rows 1..3 are short (padded), the rest random.
            length = seq if r == 0 else int(rng.integers(5, 9)) if r <= 3 else int(rng.integers(5, seq + 1))
            ids[b, r, :length] = rng.integers(5, VOCAB, size=length)
            ids[b, r, 0] = CLS_ID
            ids[b, r, length - 1] = SEP_ID
            mask[b, r, :length] = 1
            if r % 2 == 1 and length >= 6:  # a sentence pair: segment B = second half
                half = length // 2
                ids[b, r, half - 1] = SEP_ID
                types[b, r, half:length] = 1
    if regression:
        labels = rng.uniform(0.0, 5.0, size=(nb, bs)).astype(np.float32)
    else:
        labels = rng.integers(0, 2, size=(nb, bs)).astype(np.int32)
        labels[:, 0], labels[:, 1] = 0, 1  # both classes in every batch
    assert (mask.sum(-1) < seq).any(axis=1).all(), "every batch needs padded rows"
    if not family.token_types:
        types[:] = 0
    ids[mask == 0] = family.pad_id
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask, "labels": labels}


# ----------------------------------------------------------------------------------------------- adapters


class ScaledLowRankLinear(nn.Module):
    """y = W0 x + b0 + lambda_b * (B (lambda_d * (A x))): the AFLoRA / ELoRA module, no alpha / r scaling."""

    def __init__(self, base, rank, a_bound, b_bound, gen):
        super().__init__()
        self.base = base
        out_f, in_f = base.weight.shape
        self.lora_A = nn.Parameter(torch.empty(rank, in_f).uniform_(-a_bound, a_bound, generator=gen))  # [r, in]
        self.lora_B = nn.Parameter(torch.empty(out_f, rank).uniform_(-b_bound, b_bound, generator=gen))  # [out, r]
        self.lambda_d = nn.Parameter(torch.full((rank,), 0.1))  # [r]
        self.lambda_b = nn.Parameter(torch.zeros(out_f))  # [out]

    def forward(self, x):
        down = F.linear(x, self.lora_A) * self.lambda_d  # [..., r]
        return self.base(x) + F.linear(down, self.lora_B) * self.lambda_b  # [..., out]


def kaiming_uniform_bound(fan_in, a):
    """torch.nn.init.kaiming_uniform_ (leaky_relu gain sqrt(2 / (1 + a^2)))."""
    return math.sqrt(2.0 / (1.0 + a * a)) * math.sqrt(3.0 / fan_in)


def wrap_scaled(model, kinds, rank, a, seed, family=None):
    """Wraps the given linears; returns {name: Parameter} of every adapter variable, in layer/kind order."""
    gen = torch.Generator().manual_seed(seed)
    owned = {}
    for layer in range(LAYERS):
        for kind in kinds:
            path = module_path(layer, kind, family)
            base = get_module(model, path)
            assert isinstance(base, nn.Linear), path
            out_f, in_f = base.weight.shape
            wrapped = ScaledLowRankLinear(
                base, rank, kaiming_uniform_bound(in_f, a), kaiming_uniform_bound(rank, a), gen
            )
            set_module(model, path, wrapped)
            for leaf in ["lora_A", "lora_B", "lambda_d", "lambda_b"]:
                owned[f"{path}.{leaf}"] = getattr(wrapped, leaf)
            assert wrapped.lora_A.shape == (rank, in_f) and wrapped.lora_B.shape == (out_f, rank)
    return owned


def wrap_peft_lora(model, r, alpha, kinds, seed, family=None):
    """PEFT LoRA on the given linears. PEFT's list targets match by name suffix, so "output.dense" would
    also catch attention.output.dense: a full-match regex names exactly the wanted modules."""
    from peft import LoraConfig, get_peft_model

    family = family or BERT
    alternatives = "|".join(family.suffix[k].replace(".", r"\.") for k in kinds)
    target_regex = rf"{re.escape(family.layers)}\.\d+\.({alternatives})"
    torch.manual_seed(seed)
    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=target_regex, lora_dropout=0.0, bias="none")
    peft_model = get_peft_model(model, config)  # injects the LoRA layers into `model` in place
    owned = {}
    for name, p in peft_model.named_parameters():
        if ".lora_A." in name or ".lora_B." in name:
            assert name.endswith(".default.weight"), name
            stem = name[: -len(".default.weight")]
            stem = stem[stem.index(f"{family.layers}.") :]
            owned[stem] = p
    expected = {f"{module_path(l, k, family)}.lora_{m}" for l in range(LAYERS) for k in kinds for m in "AB"}
    assert set(owned) == expected, sorted(set(owned) ^ expected)
    for layer in range(LAYERS):
        for kind in kinds:
            lora_layer = get_module(model, module_path(layer, kind, family))
            assert abs(lora_layer.scaling["default"] - alpha / r) < 1e-12, "expected PEFT scaling alpha / r"
            assert torch.all(owned[f"{module_path(layer, kind, family)}.lora_B"] == 0)
    for p in head_params(model, family).values():
        p.requires_grad_(True)
    return owned, target_regex


# ----------------------------------------------------------------------------------------------- AFLoRA freezing


def remaining_ratio(step, total, t_i, t_f):
    """Cubic schedule r(t) and whether step t is a masking step (reference: schedule_threshold_comb)."""
    if step <= t_i:
        return 1.0, False
    if step > total - t_f:
        return 0.0, True
    mul = 1 - (step - t_i) / (total - t_i - t_f)
    return mul**3, None  # None: masking iff step % deltaT == 0


class AfloraFreezer:
    """Scores (window mean, Ibar, Ubar per A/B element) and permanent freezing of whole A/B tensors."""

    def __init__(self, params, pairs, options, total_steps):
        self.params = params  # {name: Parameter}, the A/B tensors that may freeze (trainable at step 0)
        self.pairs = pairs  # {name: partner name}: A <-> B of one module
        self.opt = options
        self.total = total_steps
        self.window = {}
        self.ibar = {}
        self.ubar = {}
        self.frozen_at = {n: None for n in params}
        self.total_elements = sum(p.numel() for p in params.values())
        self.scores_log = []
        self.schedule_log = []
        self.margins = []  # (step, name, relative margin)
        self.value_at_freeze = {}  # name -> value right after the step that froze it (permanence check)
        self.stopped = False

    def trainable(self):
        return [n for n, p in self.params.items() if p.requires_grad]

    def sensitivity(self, p):
        g = p.grad.detach()
        kind = self.opt["sensitivity"]
        if kind == "grad":
            return (torch.sign(p.detach()) * g).abs()
        if kind == "paramGrad":
            return (p.detach() * g).abs()
        if kind == "gradOverParam":
            return (g / p.detach()).abs()
        raise ValueError(kind)

    def element_score(self, name):
        return self.ibar[name] * self.ubar[name]

    def update(self, step):
        """Called after backward of `step`, before clipping and the optimizer step (reference order)."""
        if self.stopped:
            return
        b1, b2, dt = self.opt["beta1"], self.opt["beta2"], self.opt["deltaT"]
        local = step % dt
        names = self.trainable()
        for n in names:
            p = self.params[n]
            if n not in self.window:
                self.window[n] = torch.zeros_like(p)
                self.ibar[n] = torch.zeros_like(p)
                self.ubar[n] = torch.zeros_like(p)
            s = self.sensitivity(p)
            if local == 0:
                self.ibar[n] = b1 * self.ibar[n] + (1 - b1) * self.window[n]
                self.ubar[n] = b2 * self.ubar[n] + (1 - b2) * (self.window[n] - self.ibar[n]).abs()
                self.window[n] = s
            else:
                self.window[n] = (self.window[n] * local + s) / (local + 1)
        if local == 0 and names:
            self.scores_log.append(
                {"step": step, "values": {n: float(self.element_score(n).mean()) for n in names}}
            )
        self.mask(step)

    def mask(self, step):
        ratio, is_mask = remaining_ratio(step, self.total, self.opt["initialWarmup"], self.opt["finalWarmup"])
        if is_mask is None:
            is_mask = step % self.opt["deltaT"] == 0
        if not is_mask:
            return
        names = self.trainable()
        if not names:
            self.stopped = True  # reference: stop_pruning once no A/B is trainable
            return
        all_scores = torch.cat([self.element_score(n).reshape(-1) for n in names])
        k = max(1, int(all_scores.shape[0] * (1 - ratio)))
        threshold = float(torch.kthvalue(all_scores, k)[0])
        tensor_score = {n: float(self.element_score(n).mean()) for n in names}
        if self.opt["freezeTogether"]:
            decision_score = {n: (tensor_score[n] + tensor_score[self.pairs[n]]) / 2 for n in names}
        else:
            decision_score = tensor_score
        for n in names:
            s = decision_score[n]
            self.margins.append((step, n, abs(s - threshold) / max(abs(threshold), 1e-30)))
            if s < threshold:
                self.params[n].requires_grad_(False)
                self.frozen_at[n] = step
        left = sum(self.params[n].numel() for n in self.trainable())
        self.schedule_log.append(
            {
                "step": step,
                "remaining": ratio,
                "k": k,
                "threshold": threshold,
                "trainableFraction": left / self.total_elements,
            }
        )


# ----------------------------------------------------------------------------------------------- training


class HfAdamW(torch.optim.Optimizer):
    """transformers 4.31 `optimization.AdamW` (the Trainer's default optim "adamw_hf", which the official AFLoRA
    runs used), written here from that code as its specification so the fixture does not depend on an installed
    transformers still shipping it (it was removed in later versions). Per parameter, per step:
        m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  denom = sqrt(v) + eps
        step_size = lr * sqrt(1 - b2^t) / (1 - b1^t);  p -= step_size * m / denom
        p -= lr * wd * p   (after the update, when wd > 0)
    versus torch.optim.AdamW: p *= 1 - lr wd first, then p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    """

    def __init__(self, params, lr, betas, eps, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
                m.mul_(beta1).add_(p.grad, alpha=1.0 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1.0 - beta2)
                denom = v.sqrt().add_(group["eps"])
                step_size = group["lr"] * math.sqrt(1.0 - beta2**t) / (1.0 - beta1**t)
                p.addcdiv_(m, denom, value=-step_size)
                if group["weight_decay"] > 0.0:
                    p.add_(p, alpha=-group["lr"] * group["weight_decay"])


def make_optimizer(groups, r):
    kind = r["optimizer"]
    betas, eps = (r["adamBeta1"], r["adamBeta2"]), r["adamEps"]
    if kind == "adamw_torch":
        return torch.optim.AdamW(groups, lr=r["adapterLr"], betas=betas, eps=eps, foreach=False)
    if kind == "adamw_hf":
        return HfAdamW(groups, lr=r["adapterLr"], betas=betas, eps=eps)
    raise ValueError(kind)


def lr_factor(step, total, warmup_ratio):
    """transformers' get_linear_schedule_with_warmup with warmup = ceil(ratio * total)."""
    warmup = math.ceil(warmup_ratio * total)
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def head_params(model, family=None):
    """{state-dict name: Parameter} of the family's trained task head (BERT: classifier.weight, classifier.bias)."""
    family = family or BERT
    return {n: p for n, p in model.named_parameters() if any(n.startswith(f"{m}.") for m in family.head)}


def param_groups(adapter_params, head, r):
    """Reference groups: everything but the head's biases decays (the scaling vectors too: their names hold
    no "bias"); the head (`head`: name -> Parameter) takes its own lr."""
    weights = [n for n in head if not n.endswith(".bias")]
    biases = [n for n in head if n.endswith(".bias")]
    groups = [
        {"params": list(adapter_params.values()), "lr": r["adapterLr"], "weight_decay": r["weightDecay"]},
        {"params": [head[n] for n in weights], "lr": r["classifierLr"], "weight_decay": r["classifierWeightDecay"]},
        {"params": [head[n] for n in biases], "lr": r["classifierLr"], "weight_decay": 0.0},
    ]
    record = {n: {"lr": r["adapterLr"], "weightDecay": r["weightDecay"]} for n in adapter_params}
    for n in weights:
        record[n] = {"lr": r["classifierLr"], "weightDecay": r["classifierWeightDecay"]}
    for n in biases:
        record[n] = {"lr": r["classifierLr"], "weightDecay": 0.0}
    return groups, record


def train(model, owned, trainable_names, batches, regression, freezer=None, r=RECIPE, family=None):
    """Runs recipe `r`; returns (tensors, log). `owned`: every adapter variable; `trainable_names`: those that
    train from step 0 (frozen ones have requires_grad False already)."""
    total = r["totalSteps"]
    adapter_params = {n: owned[n] for n in trainable_names}
    for n, p in owned.items():
        p.requires_grad_(n in adapter_params)
    family = family or BERT
    head = head_params(model, family)
    named = {**adapter_params, **head}
    groups, group_record = param_groups(adapter_params, head, r)
    opt = make_optimizer(groups, r)
    base_lrs = [g["lr"] for g in opt.param_groups]
    tensors = {}
    losses, grad_norms, lrs = [], [], []
    tb = {k: torch.from_numpy(v.astype(np.int64)) for k, v in batches.items() if k != "labels"}
    labels = torch.from_numpy(batches["labels"])
    for step in range(total):
        factor = lr_factor(step, total, r["warmupRatio"])
        for g, base_lr in zip(opt.param_groups, base_lrs):
            g["lr"] = base_lr * factor
        b = step % r["numBatches"]
        logits = model(**family.feed(tb, b)).logits  # [batch, numLabels]
        if regression:
            loss = F.mse_loss(logits.squeeze(-1), labels[b].float())
        else:
            loss = F.cross_entropy(logits, labels[b].long())
        loss.backward()
        if step == 0:
            tensors["step0.logits"] = logits.detach().clone()
            tensors["step0.loss"] = loss.detach().clone().reshape(())
            for n, p in named.items():
                assert p.grad is not None, f"no gradient for {n}"
                tensors[f"step0.grad.{n}"] = p.grad.detach().clone()
        if freezer is not None:
            freezer.update(step)
        with_grad = [p for p in named.values() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(with_grad, r["maxGradNorm"])
        losses.append(loss.item())
        grad_norms.append(float(norm))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        opt.zero_grad(set_to_none=True)
        if freezer is not None:
            for n, at in freezer.frozen_at.items():
                if at == step:
                    freezer.value_at_freeze[n] = owned[n].detach().clone()
    for n, p in named.items():
        tensors[f"final.{n}"] = p.detach().clone()
    assert all(math.isfinite(x) for x in losses), "non-finite loss"
    log_data = {"paramGroups": group_record, "lr": lrs, "losses": losses, "gradNorm": grad_norms}
    return tensors, log_data


# ----------------------------------------------------------------------------------------------- cases


def input_tensors(batches):
    out = {f"input.{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in batches.items()}
    return out


def aflora_case(state, options, regression, seed, recipe=RECIPE, family=None):
    """One AFLoRA training run; returns (tensors, json, checks)."""
    opts = {**AFLORA_DEFAULTS, **options}
    model = build_model(state, 1 if regression else 2, seed + 7, family)
    owned = wrap_scaled(model, MODULE_KINDS, opts["rank"], a=0.0, seed=seed, family=family)
    ab_kinds = {"ffn": FFN_KINDS, "attention": ATTENTION_KINDS, "both": MODULE_KINDS}[opts["trainableMatrices"]]
    freezable = {
        f"{module_path(l, k, family)}.lora_{m}": owned[f"{module_path(l, k, family)}.lora_{m}"]
        for l in range(LAYERS)
        for k in ab_kinds
        for m in "AB"
    }
    vectors = [n for n in owned if n.endswith(".lambda_d") or n.endswith(".lambda_b")]
    trainable_names = [n for n in owned if n in freezable or n in vectors]
    pairs = {}
    for n in freezable:
        pairs[n] = n[:-1] + ("B" if n.endswith("A") else "A")
    init = {f"init.{n}": p.detach().clone() for n, p in owned.items()}
    if regression:
        init["init.classifier.weight"] = model.classifier.weight.detach().clone()
        init["init.classifier.bias"] = model.classifier.bias.detach().clone()
    freezer = AfloraFreezer(freezable, pairs, opts, recipe["totalSteps"])
    batches = make_batches(regression, family)
    tensors, log_data = train(model, owned, trainable_names, batches, regression, freezer, r=recipe, family=family)
    # Permanence: a frozen tensor keeps the value it had right after the step that froze it.
    for n, at in freezer.frozen_at.items():
        if at is not None:
            assert torch.equal(freezer.value_at_freeze[n], tensors[f"final.{n}"]), f"{n} moved after freezing"
    info = {
        "method": "aflora",
        "options": opts,
        "seed": seed,
        "recipe": recipe,
        **log_data,
        "scores": freezer.scores_log,
        "schedule": freezer.schedule_log,
        "freezeSteps": freezer.frozen_at,
    }
    min_margin = min(m for _, _, m in freezer.margins) if freezer.margins else float("inf")
    steps = [s for s in freezer.frozen_at.values() if s is not None]
    first_round = freezer.schedule_log[0]["step"] if freezer.schedule_log else None
    checks = {
        "minRelMargin": min_margin,
        "freezeSteps": sorted(steps),
        "distinctFreezeSteps": len(set(steps)),
        "frozenInFirstRound": sum(1 for s in steps if s == first_round),
        "neverFrozen": sum(1 for s in freezer.frozen_at.values() if s is None),
        "tensors": len(freezer.frozen_at),
    }
    info["minRelMargin"] = min_margin
    return {**input_tensors(batches), **init, **tensors}, info, checks


def acceptable(checks, margin):
    """Spread out: at least 3 distinct freeze steps, and the first masking round freezes some but not all."""
    return (
        checks["minRelMargin"] > margin
        and checks["distinctFreezeSteps"] >= 3
        and 1 <= checks["frozenInFirstRound"] < checks["tensors"] // 2
    )


def search_aflora(state, options, regression, first_seed, tries, recipe=RECIPE, family=None):
    """Re-seeds the adapter init until freezing is spread out and no decision is a near-tie."""
    best = None
    for seed in range(first_seed, first_seed + tries):
        result = aflora_case(state, options, regression, seed, recipe, family)
        checks = result[2]
        log(f"    seed {seed}: {checks}")
        if acceptable(checks, PREFERRED_REL_MARGIN):
            return result
        if acceptable(checks, MIN_REL_MARGIN) and (best is None or checks["minRelMargin"] > best[2]["minRelMargin"]):
            best = result
    if best is None:
        raise SystemExit(f"no seed in {tries} tries gives spread-out, well-separated freezing for {options}")
    return best


def lora_case(state, seed, kinds=("query", "value", "inter", "out"), family=None, probe=False):
    """PEFT LoRA r 8 / alpha 16 on `kinds`; `probe` adds the probe.* tensors (probe_tensors)."""
    r, alpha, kinds = 8, 16, list(kinds)
    model = build_model(state, 2, 0, family)
    owned, target_regex = wrap_peft_lora(model, r, alpha, kinds, seed, family)
    init = {f"init.{n}": p.detach().clone() for n, p in owned.items()}
    batches = make_batches(False, family)
    # Gentler learning rates than AFLoRA's: at 1e-2 / 4e-2 LoRA fits the 32 rows to a loss of 5e-4 and the late
    # steps become too sensitive to float32 rounding for a cross-framework comparison.
    recipe = {**RECIPE, "adapterLr": 2e-3, "classifierLr": 8e-3}
    if probe:
        init.update(probe_tensors(model, owned, list(owned), batches, seed, family))
    tensors, log_data = train(model, owned, list(owned), batches, False, r=recipe, family=family)
    info = {
        "method": "lora",
        "options": {"r": r, "alpha": alpha, "targetModules": kinds},
        "seed": seed,
        "peftTargetModules": target_regex,
        "recipe": recipe,
        **log_data,
    }
    return {**input_tensors(batches), **init, **tensors}, info


def elora_case(state, seed):
    rank, kinds = 16, ["query", "value", "inter", "out"]
    model = build_model(state, 2, classifier_seed=0)
    owned = wrap_scaled(model, kinds, rank, a=math.sqrt(5.0), seed=seed)
    init = {f"init.{n}": p.detach().clone() for n, p in owned.items()}
    vectors = [n for n in owned if n.endswith(".lambda_d") or n.endswith(".lambda_b")]
    batches = make_batches(False)
    tensors, log_data = train(model, owned, vectors, batches, False)
    info = {
        "method": "elora",
        "options": {"rank": rank, "targetModules": kinds},
        "seed": seed,
        "recipe": RECIPE,
        **log_data,
    }
    return {**input_tensors(batches), **init, **tensors}, info


def probe_tensors(model, owned, trainable, batches, seed, family=None):
    """probe.init.<name> (every adapter variable, lambda_b / lora_B nudged off their zero init: at step 0 the A/B
    gradients vanish by construction), probe.logits, probe.loss, probe.grad.<name> for the trainable ones and the
    head, on batch 0. Restores the variables afterwards."""
    family = family or BERT
    gen = torch.Generator().manual_seed(seed + 99)
    saved = {n: p.detach().clone() for n, p in owned.items()}
    out = {}
    with torch.no_grad():
        for n, p in owned.items():
            if n.endswith(".lambda_b") or n.endswith(".lora_B"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
            out[f"probe.init.{n}"] = p.detach().clone()
    for n, p in owned.items():
        p.requires_grad_(n in trainable)
    named = {**{n: owned[n] for n in trainable}, **head_params(model, family)}
    feed = {k: torch.from_numpy(v.astype(np.int64)) for k, v in batches.items() if k != "labels"}
    logits = model(**family.feed(feed, 0)).logits
    loss = F.cross_entropy(logits, torch.from_numpy(batches["labels"][0]).long())
    loss.backward()
    out["probe.logits"] = logits.detach().clone()
    out["probe.loss"] = loss.detach().clone().reshape(())
    for n, p in named.items():
        assert p.grad is not None and p.grad.abs().max() > 0, f"probe: no gradient for {n}"
        out[f"probe.grad.{n}"] = p.grad.detach().clone()
        p.grad = None
    with torch.no_grad():
        for n, p in owned.items():
            p.copy_(saved[n])
    return out


def aflora_probe(state, tensors, info, family):
    """The probe point of an accepted AFLoRA case: its model and adapters rebuilt at the case's init."""
    model = build_model(state, 2, 0, family)
    owned = wrap_scaled(model, MODULE_KINDS, info["options"]["rank"], a=0.0, seed=info["seed"], family=family)
    for n, p in owned.items():
        assert torch.equal(p, tensors[f"init.{n}"]), n
    vectors = [n for n in owned if n.endswith(".lambda_d") or n.endswith(".lambda_b")]
    ffn_ab = [f"{module_path(l, k, family)}.lora_{m}" for l in range(LAYERS) for k in FFN_KINDS for m in "AB"]
    return probe_tensors(model, owned, ffn_ab + vectors, make_batches(False, family), info["seed"], family)


def family_cases(outdir, family, tries):
    """A non-BERT family's fixtures: model/, aflora (defaults, 80 steps) and lora (all six linears, 80 steps),
    each with its probe point. Returns the seeded state."""
    state = family.seeded_state()
    write_model_dir(os.path.join(outdir, "model"), family.config(2), state, family)
    log("aflora:")
    tensors, info, checks = search_aflora(state, {}, False, 100, tries, {**RECIPE, **family.aflora_recipe}, family)
    tensors.update(aflora_probe(state, tensors, info, family))
    write_case(outdir, "aflora", tensors, info)
    summarize("aflora", info, checks)
    log("lora:")
    tensors, info = lora_case(state, 400, MODULE_KINDS, family, probe=True)
    write_case(outdir, "lora", tensors, info)
    summarize("lora", info)
    return state


# ----------------------------------------------------------------------------------------------- output


def write_case(outdir, name, tensors, info):
    flat = {k: v.detach().to(torch.float32 if v.is_floating_point() else torch.int32).contiguous() for k, v in tensors.items()}
    for k, v in flat.items():
        if k.startswith("input.") and k != "input.labels":
            assert v.dtype == torch.int32 and v.dim() == 3, k
        assert torch.isfinite(v.float()).all(), f"{name}: non-finite {k}"
    save_file(flat, os.path.join(outdir, f"{name}.safetensors"))
    with open(os.path.join(outdir, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1)
        f.write("\n")


def write_model(outdir, state):
    write_model_dir(os.path.join(outdir, "model"), make_config(2), state, BERT)


def write_model_dir(path, config, state, family):
    """config.json + model.safetensors, as save_pretrained lays out a *ForSequenceClassification folder."""
    os.makedirs(path, exist_ok=True)
    config.architectures = [family.model_class.__name__]
    as_json = json.loads(config.to_json_string())
    # Some transformers versions leave the default label maps out; the TS config parser counts them.
    as_json.setdefault("id2label", {"0": "LABEL_0", "1": "LABEL_1"})
    as_json.setdefault("label2id", {"LABEL_0": 0, "LABEL_1": 1})
    with open(os.path.join(path, "config.json"), "w", encoding="utf-8") as f:
        json.dump(as_json, f, indent=2, sort_keys=True)
        f.write("\n")
    save_file({k: v.contiguous() for k, v in state.items()}, os.path.join(path, "model.safetensors"))


def summarize(name, info, checks=None):
    losses = info["losses"]
    line = f"{name:18s} loss {losses[0]:.4f} -> {losses[-1]:.4f}  gradNorm[0] {info['gradNorm'][0]:.3e}"
    if "freezeSteps" in info:
        steps = sorted((s if s is not None else 10**9) for s in info["freezeSteps"].values())
        shown = ["never" if s == 10**9 else str(s) for s in steps]
        line += f"  seed {info['seed']}  freeze steps [{', '.join(shown)}]  min rel margin {checks['minRelMargin']:.3g}"
    log(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir")
    parser.add_argument("--tries", type=int, default=60, help="adapter seeds to try per AFLoRA case")
    parser.add_argument("--only", nargs="*", help="write only these cases (the model is always written)")
    parser.add_argument("--family", default="bert", choices=[f for f in FAMILIES if f != "deberta-v2"],
                        help="another family's model, aflora and lora cases (DeBERTa: deberta_golden.py)")
    args = parser.parse_args()

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    os.makedirs(args.outdir, exist_ok=True)
    log(f"torch {torch.__version__}, transformers {__import__('transformers').__version__}")
    if args.family != "bert":
        family_cases(args.outdir, FAMILIES[args.family], args.tries)
        return

    state = base_state()
    write_model(args.outdir, state)

    builders = {
        "aflora": lambda: search_aflora(state, {}, False, 100, args.tries),
        "aflora_both_pxg": lambda: search_aflora(
            state, {"trainableMatrices": "both", "sensitivity": "paramGrad", "freezeTogether": True}, False, 200, args.tries
        ),
        "aflora_regression": lambda: search_aflora(state, {}, True, 300, args.tries),
        # The same problem under transformers 4.31's AdamW (the official runs' adamw_hf); first seed = aflora's,
        # so when seed 100 is accepted for both, the two fixtures differ only by the optimizer.
        "aflora_adamw_hf": lambda: search_aflora(state, {}, False, 100, args.tries, {**RECIPE, "optimizer": "adamw_hf"}),
        "lora": lambda: (*lora_case(state, 400), None),
        "elora": lambda: (*elora_case(state, 500), None),
    }
    cases = []
    for name, build in builders.items():
        if args.only and name not in args.only:
            continue
        log(f"{name}:")
        t, i, c = build()
        cases.append((name, t, i, c))

    log("")
    total_bytes = 0
    for name, tensors, info, checks in cases:
        write_case(args.outdir, name, tensors, info)
        summarize(name, info, checks)
    for root, _, files in os.walk(args.outdir):
        total_bytes += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    log(f"wrote {args.outdir}: {total_bytes / 1e6:.2f} MB")
    assert total_bytes < 3.5e6, "fixtures larger than planned"


if __name__ == "__main__":
    sys.exit(main())
