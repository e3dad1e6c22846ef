"""What a training run has done so far: the part of MODEL.last.pt that makes a resume continue exactly."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class TrainState:
    """Progress of a run; saved as a plain dict beside the optimiser's state, under the same keys as ever,
    so that older checkpoints resume too."""
    epoch: int = 0                # epochs completed
    step: int = 0                 # optimiser steps done, over the whole run
    history: list[dict[str, float]] = field(default_factory=list)   # per epoch: epoch, loss, lr and metrics
    best: float | None = None     # the best monitored value so far
    best_metrics: dict[str, float] = field(default_factory=dict)    # the record of the best epoch
    bad: int = 0                  # validations since the last improvement

    @classmethod
    def from_checkpoint(cls, train: dict[str, Any]) -> TrainState:
        """The state in a checkpoint's training dict (which also holds the optimiser's, schedule's, ... state)."""
        return cls(**{f.name: train[f.name] for f in fields(cls)})

    def count_validation(self, record: dict[str, float], value: float, mode: str) -> bool:
        """Whether the monitored `value` of an epoch's `record` is the best so far (then kept with the record);
        a non-finite value never is.

        Args:
            record: the epoch's record (epoch, loss, lr and validation metrics).
            value: the monitored metric's value in it.
            mode: "min" or "max": whether a lower or a higher value is better.
        """
        better = self.best is None or (value < self.best if mode == "min" else value > self.best)
        if better and math.isfinite(value):
            self.best, self.best_metrics, self.bad = value, dict(record), 0
            return True
        self.bad += 1
        return False
