import os
import sys

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))

GOLDEN = os.path.join(REPO, "tests", "fixtures", "golden")
RUN_CONFIGS = os.path.join(REPO, "tests", "fixtures", "run-config")


@pytest.fixture(autouse=True)
def _deterministic():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    yield
