"""Progress events streamed by the training engine to a callback (GUI, job runner, progress bar)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Event:
    """One progress report; steps count optimiser steps, so a full-batch epoch is one step."""
    kind: str                 # "step", "epoch", "validation", "checkpoint", "done"
    epoch: int                # 1-based epoch the event belongs to
    epochs: int
    step: int = 0             # optimiser steps done so far, over the whole run
    steps: int = 0            # optimiser steps of the whole run
    loss: float | None = None
    lr: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    eta_s: float | None = None
    message: str = ""
