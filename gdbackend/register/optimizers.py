"""The three optimisers the user chooses from, all taking steps measured in millimetres.

gd   full-batch gradient descent with backtracking: the gain is estimated on the first level so that
     the first step moves the largest parameter by `step` mm; a step that raises the loss is taken
     back and retried at half the gain, and a step that lowers it lets the gain grow by 20 %.
sgd  stochastic gradient descent on random voxel samples with the decaying gain
     a_k = a_0 ((A + 1) / (A + k + 1))^0.602 of elastix and ITK (Spall's gain sequence); the
     parameters are averaged over the last 30 % of each level (Polyak-Ruppert), which removes
     most of the sampling noise that limits the precision of plain SGD.
adam Adam with the step decaying on a cosine to 5 % over the level.
The gain found on one level is carried to the next, scaled like the step length, because a level
that starts near the optimum has too small a gradient to estimate it from. For the same reason
(a stage that starts where the previous one converged) no gd/sgd step moves a parameter, all of
which are in millimetres, further than the step length allowed at that iteration: a gain
estimated from a near-zero gradient cannot blow the transform up.
"""
from __future__ import annotations

import math

import torch

OPTIMIZERS = ("gd", "sgd", "adam")


class StepOptimizer:
    """One optimiser for one level; call `step(loss)` after `loss.backward()`."""

    def __init__(self, kind: str, params: list[torch.nn.Parameter], step: float, iterations: int,
                 gain: float | None = None) -> None:
        self.kind, self.params, self.step_mm, self.iterations = kind, params, step, max(iterations, 1)
        self.k = 0
        self.gain = gain
        self.best = math.inf
        self._best_state: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.adam = torch.optim.Adam(params, lr=step) if kind == "adam" else None
        self._average: list[torch.Tensor] | None = None
        self._n_average = 0

    def _estimate_gain(self) -> float:
        g = max(float(p.grad.abs().max()) for p in self.params if p.grad is not None)
        return self.step_mm / max(g, 1e-12)

    @torch.no_grad()
    def step(self, loss: float) -> None:
        self.k += 1
        if self.adam is not None:
            frac = (self.k - 1) / self.iterations
            for group in self.adam.param_groups:
                group["lr"] = self.step_mm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
            self.adam.step()
            return
        if self.gain is None:
            self.gain = self._estimate_gain()
        if self.kind == "sgd":
            a = 0.1 * self.iterations
            decay = ((a + 1) / (a + self.k)) ** 0.602
            gain = self._limited(self.gain * decay, self.step_mm * decay, [p.grad for p in self.params])
            for p in self.params:
                p -= gain * p.grad
            if self.k > 0.7 * self.iterations:
                self._accumulate()
            return
        if loss <= self.best:
            if self._best_state:
                self.gain *= 1.2
            self.best = loss
            self._best_state = [(p.detach().clone(), p.grad.detach().clone()) for p in self.params]
        else:
            self.gain *= 0.5
        self.gain = self._limited(self.gain, self.step_mm, [grad for _, grad in self._best_state])
        for p, (value, grad) in zip(self.params, self._best_state):
            p.copy_(value - self.gain * grad)

    @staticmethod
    def _limited(gain: float, max_move: float, grads: list[torch.Tensor]) -> float:
        """The gain, reduced so that no parameter moves more than max_move mm."""
        g = max(float(grad.abs().max()) for grad in grads)
        return min(gain, max_move / g) if g > 0 else gain

    def _accumulate(self) -> None:
        self._n_average += 1
        if self._average is None:
            self._average = [p.detach().clone() for p in self.params]
        else:
            for a, p in zip(self._average, self.params):
                a += (p.detach() - a) / self._n_average

    @torch.no_grad()
    def finish(self) -> None:
        """Leave the parameters at their average (sgd) or best value (gd) at the end of the level."""
        if self._average is not None:
            for p, a in zip(self.params, self._average):
                p.copy_(a)
        elif self._best_state:
            for p, (value, _) in zip(self.params, self._best_state):
                p.copy_(value)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None


def converged(losses: list[float], tolerance: float, window: int = 10) -> bool:
    """True when the mean loss of the last window changed by less than `tolerance` (relative)."""
    if tolerance <= 0 or len(losses) < 2 * window:
        return False
    a = sum(losses[-2 * window:-window]) / window
    b = sum(losses[-window:]) / window
    return abs(a - b) <= tolerance * max(abs(a), 1e-12)
