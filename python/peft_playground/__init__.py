"""The PEFT Playground's training runs in PyTorch: the same run config, methods and outputs as the browser app.

    accelerate launch -m peft_playground.train --config run.json
"""

from .config import RunConfig, RunConfigError, parse_run_config

__all__ = ["RunConfig", "RunConfigError", "parse_run_config"]
