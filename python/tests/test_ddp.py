"""Two DDP processes on the CPU (gloo) train the golden AFLoRA case exactly like one process: each rank takes half
of every global batch; both ranks freeze the same matrices at the same steps as a single process, and the final
tensors agree to float32 rounding (the all-reduce sums in another order)."""

import os
import pickle
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from test_golden import run_case

CASE = "aflora_both_pxg"  # attention and FFN A/B, |p * g|, A and B together: the most decisions


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    try:
        _, _, adapter, model, session, losses = run_case(CASE, world, rank)
        state = {n: p.detach().clone() for n, p in adapter.variables.items()}
        state["classifier.weight"] = model.classifier.weight.detach().clone()
        with open(os.path.join(out_dir, f"rank{rank}.pkl"), "wb") as f:
            pickle.dump({"frozen": session.freezer.frozen_at, "losses": losses, "state": state, "rounds": session.freezer.rounds}, f)
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_equal_one(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [pickle.load(open(tmp_path / f"rank{r}.pkl", "rb")) for r in range(2)]
    _, _, adapter, model, session, losses = run_case(CASE)
    single = session.freezer.frozen_at
    assert any(v is not None for v in single.values())
    for r in ranks:
        assert r["frozen"] == single  # same matrices, same steps, on every rank
        assert [x["k"] for x in r["rounds"]] == [x["k"] for x in session.freezer.rounds]
        assert max(abs(a - b) for a, b in zip(r["losses"], losses)) < 1e-5
        for name, p in adapter.variables.items():
            assert float((r["state"][name] - p.detach()).abs().max()) < 1e-4, name
    for name in ranks[0]["state"]:  # DDP keeps the replicas identical
        assert torch.equal(ranks[0]["state"][name], ranks[1]["state"][name]), name
