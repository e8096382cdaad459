"""PyTorch eager reference for bench/run.ts: the same training step on the same shapes.

    python3 bench/pytorch_bench.py OUT_DIR [--models tiny,mini,small,base] [--methods ...] [--batch 32]
                                           [--seq 128] [--steps 20] [--warmup 5]
                                           [--compile aflora-both,lora-r8] [--compile-models tiny,mini,small,base]
                                           [--freeze-pairs ROUNDS]

BertForSequenceClassification (transformers) with random weights of BERT tiny / mini / small / base shapes,
vocab 30522, dropout 0.1, fp32, cross-entropy, global-norm clipping 0.1, torch.optim.AdamW
(adapter lr 1e-3, classifier lr 4e-3, weight decay 0.1 except biases and scaling vectors). Methods:
  aflora-both       our AFLoRA module on all six linears, r = 4, A/B/Λd/Λb trainable, with the per-step
                    |grad| score accumulation of the freezing criterion (no freezing inside the run)
  aflora-pm-frozen  the same module with A/B frozen (only Λd, Λb train)
  lora-r8           PEFT LoRA r = 8, alpha 16, on query/key/value/attention-output/intermediate/output
  elora             frozen random A [r, in], B [out, r] (r = min(1024, 4 H)), trainable Λd, Λb on
                    query/value/intermediate/output (the TS method's defaults)
  adalora           PEFT AdaLoRA, the TS defaults (init_r 12 -> target_r 8, alpha 8, query/value, orth_reg 0.5,
                    tinit 0, tfinal 0, deltaT 1: update_and_allocate every step)
  increlora         no PyTorch package: PEFT LoRA on all six linears at rank 1 + 4 reserve components (the TS
                    defaults: lora_r 1, incre_rank_num 4, advance_learn) with IncreLoRA's per-step |p·g|
                    importance EMA (Ī, Ū) on every A/B; no growth inside the run (init_warmup 100 steps)
  alora             the ScaledLowRank module with trainable A, B and per-rank gate (16 rank slots, the TS
                    max_rank) on all six linears; no allocation inside the run
  full              every weight trains except the three embedding matrices (the TS default)
With --compile, the listed methods also run with the model under torch.compile (default mode), variant
"pytorch-compile"; warm-up steps include the compilation.
Base weights and pooler frozen, classifier trains. Per config: CUDA-synchronised median ms/step over
`steps` steps after `warmup`, ms/step pipelined (`steps` steps, one synchronisation at the end), examples/s, tokens/s, peak CUDA memory. Writes OUT_DIR/pytorch.json.
Needs python3 + torch + transformers + peft (+ numpy).
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
from torch import nn

CUDA = torch.cuda.is_available()


def sync():
    if CUDA:
        torch.cuda.synchronize()

MODELS = {
    "tiny": dict(num_hidden_layers=2, hidden_size=128, num_attention_heads=2, intermediate_size=512),
    "mini": dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4, intermediate_size=1024),
    "small": dict(num_hidden_layers=4, hidden_size=512, num_attention_heads=8, intermediate_size=2048),
    "base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072),
}
METHODS = ["aflora-both", "aflora-pm-frozen", "lora-r8", "elora", "adalora", "increlora", "alora", "full"]
# Module-name suffixes of the six adaptable linears inside bert.encoder.layer.{i}.
SIX_LINEARS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
ELORA_LINEARS = ("attention.self.query", "attention.self.value", "intermediate.dense", "output.dense")


class ScaledLowRank(nn.Module):
    """y = W0 x + b0 + Λb ⊙ (B (Λd ⊙ (A x))): the AFLoRA module (and ELoRA with frozen A, B)."""

    def __init__(self, base: nn.Linear, rank: int, train_ab: bool, kaiming_a: float):
        super().__init__()
        self.base = base
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features), requires_grad=train_ab)
        self.lora_B = nn.Parameter(torch.empty(base.out_features, rank), requires_grad=train_ab)
        nn.init.kaiming_uniform_(self.lora_A, a=kaiming_a)
        nn.init.kaiming_uniform_(self.lora_B, a=kaiming_a)
        self.lambda_d = nn.Parameter(torch.full((rank,), 0.1))
        self.lambda_b = nn.Parameter(torch.zeros(base.out_features))

    def forward(self, x):
        down = (x @ self.lora_A.t()) * self.lambda_d
        return self.base(x) + (down @ self.lora_B.t()) * self.lambda_b


def wrap_linears(model, suffixes, make):
    """Replaces every encoder nn.Linear whose name ends with one of `suffixes` by make(linear)."""
    targets = []
    for name, module in model.named_modules():
        if ".encoder.layer." in name and isinstance(module, nn.Linear):
            # "output.dense" also ends "attention.output.dense": match on the path after layer.{i}.
            inner = name.split(".encoder.layer.", 1)[1].split(".", 1)[1]
            if inner in suffixes:
                targets.append(name)
    for name in targets:
        parent_name, child = name.rsplit(".", 1)
        parent = model.get_submodule(parent_name)
        setattr(parent, child, make(getattr(parent, child)))
    return len(targets)


def build(model_name, method, device, total_steps):
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=30522,
        max_position_embeddings=512,
        type_vocab_size=2,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        layer_norm_eps=1e-12,
        num_labels=2,
        **MODELS[model_name],
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    for p in model.parameters():
        p.requires_grad_(False)
    if method in ("aflora-both", "aflora-pm-frozen"):
        train_ab = method == "aflora-both"
        wrap_linears(model, SIX_LINEARS, lambda lin: ScaledLowRank(lin, 4, train_ab, 0.0))
    elif method == "elora":
        rank = min(1024, 4 * config.hidden_size)
        wrap_linears(model, ELORA_LINEARS, lambda lin: ScaledLowRank(lin, rank, False, math.sqrt(5)))
    elif method == "alora":
        wrap_linears(model, SIX_LINEARS, lambda lin: ScaledLowRank(lin, 16, True, math.sqrt(5)))
    elif method == "full":
        for name, p in model.named_parameters():
            if not name.endswith("_embeddings.weight"):
                p.requires_grad_(True)
    elif method == "adalora":
        from peft import AdaLoraConfig, get_peft_model

        adalora = AdaLoraConfig(
            init_r=12,
            target_r=8,
            lora_alpha=8,
            lora_dropout=0.0,
            target_modules=["query", "value"],
            orth_reg_weight=0.5,
            tinit=0,
            tfinal=0,
            deltaT=1,
            beta1=0.85,
            beta2=0.85,
            total_step=total_steps,
            task_type="SEQ_CLS",
        )
        model = get_peft_model(model, adalora)
    elif method == "increlora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=5,
            lora_alpha=32,
            lora_dropout=0.0,
            target_modules=["query", "key", "value", "output.dense", "intermediate.dense"],
            task_type="SEQ_CLS",
        )
        model = get_peft_model(model, lora)
    elif method == "lora-r8":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=8,
            lora_alpha=16,
            lora_dropout=0.0,
            target_modules=["query", "key", "value", "output.dense", "intermediate.dense"],
            task_type="SEQ_CLS",
        )
        model = get_peft_model(model, lora)
    else:
        raise ValueError(method)
    if method not in ("lora-r8", "adalora", "increlora"):  # PEFT's SEQ_CLS task trains its copy of the classifier
        for name, p in model.named_parameters():
            if name.startswith("classifier."):
                p.requires_grad_(True)
    model.to(device).train()
    return model


def param_groups(model, adapter_lr, classifier_lr, weight_decay):
    groups = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_classifier = "classifier" in name
        no_decay = name.endswith("bias") or "lambda_" in name
        key = (is_classifier, no_decay)
        if key not in groups:
            groups[key] = {
                "params": [],
                "lr": classifier_lr if is_classifier else adapter_lr,
                "weight_decay": 0.0 if no_decay else weight_decay,
            }
        groups[key]["params"].append(p)
    return list(groups.values())


def stepper(model_name, method, args, device, total_steps, compiled=False):
    """(step(i) -> loss, model, forward, optimizer) of one config: the training step bench_one and freeze_share time."""
    model = build(model_name, method, device, total_steps)
    forward = torch.compile(model) if compiled else model
    optimizer = torch.optim.AdamW(param_groups(model, 1e-3, 4e-3, 0.1))
    trainable = [p for p in model.parameters() if p.requires_grad]
    # AFLoRA's freezing score: a running |grad| per A/B element, updated every step.
    scored = [p for n, p in model.named_parameters() if p.requires_grad and ("lora_A" in n or "lora_B" in n)]
    score_sums = [torch.zeros_like(p) for p in scored] if method.startswith("aflora") else []
    # IncreLoRA's importance: EMAs of |p·g| (Ī) and of its deviation (Ū), every step.
    importance = [(torch.zeros_like(p), torch.zeros_like(p)) for p in scored] if method == "increlora" else []
    generator = torch.Generator(device="cpu").manual_seed(7)
    batches = []
    for _ in range(4):
        ids = torch.randint(1000, 30522, (args.batch, args.seq), generator=generator)
        types = torch.zeros_like(ids)
        types[:, args.seq // 2 :] = 1
        labels = torch.randint(0, 2, (args.batch,), generator=generator)
        batches.append(tuple(t.to(device) for t in (ids, types, torch.ones_like(ids), labels)))

    def step(i):
        ids, types, mask, labels = batches[i % len(batches)]
        out = forward(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels)
        out.loss.backward()
        for acc, p in zip(score_sums, scored):
            acc.add_(p.grad.abs())
        with torch.no_grad():
            for (ibar, ubar), p in zip(importance, scored):
                ipt = (p * p.grad).abs()
                ibar.mul_(0.85).add_(ipt, alpha=0.15)
                ubar.mul_(0.85).add_((ipt - ibar).abs(), alpha=0.15)
        torch.nn.utils.clip_grad_norm_(trainable, 0.1)
        optimizer.step()
        if method == "adalora":
            model.base_model.update_and_allocate(i)
        optimizer.zero_grad(set_to_none=True)
        return out.loss

    return step, model, forward, optimizer


def bench_one(model_name, method, args, device, compiled=False):
    step, model, forward, optimizer = stepper(model_name, method, args, device, args.warmup + 2 * args.steps + 1, compiled)
    trainable = [p for p in model.parameters() if p.requires_grad]
    for i in range(args.warmup):
        step(i)
    sync()
    if CUDA:
        torch.cuda.reset_peak_memory_stats()
    samples = []
    loss = None
    for i in range(args.steps):
        start = time.perf_counter()
        loss = step(args.warmup + i)
        sync()
        samples.append((time.perf_counter() - start) * 1000)
    # Pipelined: steps back to back, one synchronisation at the end (the CPU launches ahead of the GPU).
    start = time.perf_counter()
    for i in range(args.steps):
        loss = step(args.warmup + args.steps + i)
    sync()
    pipelined = (time.perf_counter() - start) * 1000 / args.steps
    median = statistics.median(samples)
    result = {
        "model": model_name,
        "method": method,
        "variant": "pytorch-compile" if compiled else "pytorch-eager",
        "batch": args.batch,
        "seq": args.seq,
        "msPerStep": {"median": median, "mean": statistics.fmean(samples), "min": min(samples), "max": max(samples), "samples": samples},
        "pipelinedMs": pipelined,
        "examplesPerSec": args.batch * 1000 / median,
        "tokensPerSec": args.batch * args.seq * 1000 / median,
        "trainableParams": sum(p.numel() for p in trainable),
        "peakCudaBytes": torch.cuda.max_memory_allocated() if CUDA else 0,
        "lastLoss": float(loss.item()),
    }
    del model, forward, optimizer
    if compiled:
        torch._dynamo.reset()
    if CUDA:
        torch.cuda.empty_cache()
    return result


def freeze_share(model_name, args, device):
    """What freezing every A/B saves (aflora-both -> aflora-pm-frozen), drift-robust: both configs alive side by
    side, `rounds` rounds of `steps` pipelined steps each, in ABBA order; per round the share 1 - frozen / both of its
    two blocks (bench/run.ts --freeze-pairs does the same for TF.js)."""
    rounds = args.freeze_pairs
    total = args.warmup + rounds * args.steps + 1
    steppers = {m: stepper(model_name, m, args, device, total)[0] for m in ("aflora-both", "aflora-pm-frozen")}
    done = {m: 0 for m in steppers}

    def block(method, count):
        start = time.perf_counter()
        for _ in range(count):
            steppers[method](done[method])
            done[method] += 1
        sync()
        return (time.perf_counter() - start) * 1000 / count

    for method in steppers:
        block(method, args.warmup)
    both, frozen = [], []
    for r in range(rounds):
        order = ("aflora-both", "aflora-pm-frozen") if r % 2 == 0 else ("aflora-pm-frozen", "aflora-both")
        times = {m: block(m, args.steps) for m in order}
        both.append(times["aflora-both"])
        frozen.append(times["aflora-pm-frozen"])
    shares = [1 - f / b for b, f in zip(both, frozen)]
    del steppers
    if CUDA:
        torch.cuda.empty_cache()
    return {
        "model": model_name,
        "variant": "pytorch-eager",
        "rounds": rounds,
        "steps": args.steps,
        "bothMs": both,
        "frozenMs": frozen,
        "share": {"median": statistics.median(shares), "min": min(shares), "max": max(shares)},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--models", default="tiny,mini,small,base")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--compile", default="", help="methods also timed under torch.compile")
    parser.add_argument("--compile-models", default="tiny,mini,small,base")
    parser.add_argument("--freeze-pairs", type=int, default=0,
                        help="ROUNDS: only the freezing share, aflora-both and aflora-pm-frozen side by side in ABBA rounds")
    parser.add_argument("--cpu-check", action="store_true", help="run on the cpu (no timing value): checks the code")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.cpu_check:
        sys.exit("CUDA is not available: this benchmark times GPU steps (--cpu-check: a dry run of the code)")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 like TF.js
    torch.backends.cudnn.allow_tf32 = False
    os.makedirs(args.out_dir, exist_ok=True)
    results, failures = [], []
    if args.freeze_pairs > 0:
        for model_name in args.models.split(","):
            try:
                r = freeze_share(model_name, args, device)
                results.append(r)
                print(f"{model_name}: freezing A/B saves {100 * r['share']['median']:.1f} % (median of {r['rounds']} "
                      f"rounds, {100 * r['share']['min']:.1f}..{100 * r['share']['max']:.1f}); both "
                      f"{statistics.median(r['bothMs']):.2f}, frozen {statistics.median(r['frozenMs']):.2f} ms/step pipelined",
                      flush=True)
            except Exception as error:
                failures.append({"model": model_name, "method": "freeze-pairs", "compiled": False, "error": repr(error)})
                print(f"{model_name} freeze pairs FAILED: {error!r}", flush=True)
            write_report(args, results, failures)
        print(f"wrote {os.path.join(args.out_dir, 'pytorch.json')}")
        sys.exit(1 if failures else 0)
    configs = [(m, method, False) for m in args.models.split(",") for method in args.methods.split(",")]
    if args.compile:
        # After every eager config: a slow compilation cut off by a time limit leaves the eager numbers written.
        configs += [(m, method, True) for m in args.compile_models.split(",") for method in args.compile.split(",")]
    for model_name, method, compiled in configs:
        label = f"{model_name}/{method}{' (compile)' if compiled else ''}"
        try:
            r = bench_one(model_name, method, args, device, compiled)
            results.append(r)
            print(f"{label}: {r['msPerStep']['median']:.2f} ms/step (pipelined {r['pipelinedMs']:.2f}), "
                  f"{r['examplesPerSec']:.0f} ex/s, peak {r['peakCudaBytes'] / 2**20:.0f} MiB", flush=True)
        except Exception as error:  # keep the other configs' numbers
            failures.append({"model": model_name, "method": method, "compiled": compiled, "error": repr(error)})
            print(f"{label} FAILED: {error!r}", flush=True)
        write_report(args, results, failures)
    print(f"wrote {os.path.join(args.out_dir, 'pytorch.json')}")
    sys.exit(1 if failures else 0)


def write_report(args, results, failures):
    report = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if CUDA else "cpu (--cpu-check)",
        "tf32": False,
        "args": vars(args),
        "results": results,
        "failures": failures,
    }
    with open(os.path.join(args.out_dir, "pytorch.json"), "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
