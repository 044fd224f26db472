"""benchmarks/train_throughput.py's FLOP count (the MFU numerator); no timing is asserted."""

from __future__ import annotations

import importlib.util
import sys
from types import SimpleNamespace

from conftest import REPO


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_forward_flops_count_the_work_executed():
    flops = load("train_throughput").forward_flops
    shape = {"d_model": 4, "d_ff": 8, "n_layers": 2}
    per_token, attention = 2 * 4 * 16 + 2 * 2 * 4 * 8, 2 * 2 * 10 * 4  # 256, 160 (length 10)
    mean = SimpleNamespace(**shape, pooling="mean")
    assert flops(mean, 10, 6) == 2 * (per_token + attention) * 6 + 2 * 4
    # last pooling: the last block's keys and values at every token, the rest at one position
    last = SimpleNamespace(**shape, pooling="last")
    one_layer = (per_token + attention) * 6
    assert flops(last, 10, 6) == one_layer + 2 * 2 * 16 * 6 + (per_token - 64) + attention + 8
