"""One table.txt row of a TF.js bench result next to PyTorch eager (and torch.compile) of the same device call."""


def row(r, eager, compiled=None):
    variant = r["variant"] + ("" if r.get("submitEvery") is None else f"/{r['submitEvery']}")
    synced, piped = r["msPerStep"]["median"], r["pipelinedMs"]
    es, ep = eager["msPerStep"]["median"], eager["pipelinedMs"]
    per_dispatch = r["usPerDispatch"] and round(r["usPerDispatch"], 1)
    line = (
        f"{r['model']:5} {r['method']:16} {variant:12} sync {synced:6.1f} pipe {piped:6.1f} enq {r['enqueueMs']:5.1f} "
        f"wait {r['gpuWaitMs']:5.1f} disp {r['dispatchesPerStep']} us/d {per_dispatch} | eager {es:.2f}/{ep:.2f} "
        f"ratio {synced / es:.2f}x/{piped / ep:.2f}x"
    )
    return line + (f" compile {compiled['msPerStep']['median']:.2f}" if compiled else "")
