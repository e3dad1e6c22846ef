"""The three optimisers the user chooses from, behind one interface (`Optimiser`), all taking steps measured in
millimetres.

gd   full-batch gradient descent with backtracking: a step that raises the loss is taken back and
     retried at half the gain, and a step that lowers it lets the gain grow by 20 %.
sgd  stochastic gradient descent on random voxel samples with the decaying gain
     a_k = a_0 ((A + 1) / (A + k + 1))^0.602 of elastix and ITK (Spall's gain sequence); the
     parameters are averaged over the last 30 % of each level (Polyak-Ruppert), which removes
     most of the sampling noise that limits the precision of plain SGD.
adam Adam with the step decaying on a cosine to 5 % over the level.
gd and sgd can estimate a gain for each parameter tensor (translation, rotation, scale, linear part; a field's
coefficients) on the first level, so that its first step moves its largest entry by `step` mm, and limit each
tensor's steps by its own gradient. One gain for all is set by the largest gradient, the translation's after a start
centres apart, 4-14 times the linear part's, and the linear part then crawls: a 2 mm affine with the fixed brain
cropped to its top 60 % ended 0.124 mm off, and 0.0079 mm with a gain each (SimpleITK 0.021). Larger steps also let
more sampling noise through, which the Gauss-Newton steps that end a least-squares linear stage remove; mutual
information has none, and one gain kept it twice as precise on Colin27 (0.024 against 0.038 mm), so the engine
asks for a gain each only where those steps follow.
The gains found on one level are carried to the next, scaled like the step length, because a level
that starts near the optimum has too small a gradient to estimate it from. For the same reason
(a stage that starts where the previous one converged) no gd/sgd step moves a parameter, all of
which are in millimetres, further than the step length allowed at that iteration: a gain
estimated from a near-zero gradient cannot blow the transform up. sgd and adam keep everything on the
device (no host sync per iteration); gd reads each loss to backtrack.
"""
from __future__ import annotations

import math

import torch


class Optimiser:
    """One level's optimiser: call `step(loss)` after `loss.backward()` and `finish()` at the end of the level.

    Args:
        params: the parameters to move (all in mm).
        step: step length in mm for this level.
        iterations: the level's iteration budget (the schedules run over it).
        gain: the previous level's gains (P,), mm per unit gradient, one per parameter tensor, or None to estimate
            them from the first gradient.
        per_tensor: a gain and a step limit for each parameter tensor; else one for all, set by the largest
            gradient of any.
    """
    full_step = {"linear": 1.0, "deformable": 1.0}   # default finest-level step in mm, by kind of stage

    def __init__(self, params: list[torch.nn.Parameter], step: float, iterations: int,
                 gain: torch.Tensor | None = None, per_tensor: bool = False) -> None:
        self.params, self.step_mm, self.iterations = params, step, max(iterations, 1)
        self.per_tensor = per_tensor
        self.k = 0
        self.gain = gain

    @classmethod
    def default_step(cls, linear: bool, metric: str) -> float:
        """Step length in mm at the finest level when the user gives none."""
        return cls.full_step["linear" if linear else "deformable"]

    def step(self, loss: torch.Tensor) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Leave the parameters where the level's result is (the last, average or best value)."""

    def next_gain(self) -> torch.Tensor | None:
        """The gains for the next (finer) level, half this one's as its step is half as long."""
        return None if self.gain is None else 0.5 * self.gain

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _largest(self, grads: list[torch.Tensor]) -> torch.Tensor:
        """The largest gradient magnitude of each parameter tensor, (P,); with one gain for all, the largest of all
        in every place."""
        largest = torch.stack([g.abs().max().double() for g in grads])
        return largest if self.per_tensor else largest.max().expand_as(largest)

    def _estimate_gain(self) -> torch.Tensor:
        return self.step_mm / self._largest([p.grad for p in self.params]).clamp_min(1e-12)

    def _limited(self, gain: torch.Tensor, max_move: float, grads: list[torch.Tensor]) -> torch.Tensor:
        """The gains (P,), each reduced so that no entry of its parameter tensor moves more than max_move mm."""
        g = self._largest(grads)
        return torch.where(g > 0, torch.minimum(gain, max_move / g.clamp_min(1e-300)), gain)


class GradientDescent(Optimiser):
    """Full-batch gradient descent with backtracking (reads each loss on the host)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.best = math.inf
        self._best_state: list[tuple[torch.Tensor, torch.Tensor]] = []

    @torch.no_grad()
    def step(self, loss: torch.Tensor) -> None:
        self.k += 1
        if self.gain is None:
            self.gain = self._estimate_gain()
        value = float(loss)
        if value <= self.best:
            if self._best_state:
                self.gain = self.gain * 1.2
            self.best = value
            self._best_state = [(p.detach().clone(), p.grad.detach().clone()) for p in self.params]
        else:
            self.gain = self.gain * 0.5
        self.gain = self._limited(self.gain, self.step_mm, [grad for _, grad in self._best_state])
        for p, gain, (value, grad) in zip(self.params, self.gain, self._best_state):
            p.copy_(value - gain * grad)

    @torch.no_grad()
    def finish(self) -> None:
        for p, (value, _) in zip(self.params, self._best_state):
            p.copy_(value)


class StochasticGradientDescent(Optimiser):
    """SGD with Spall's decaying gain and Polyak-Ruppert averaging over the last 30 % of the level."""
    full_step = {"linear": 1.0, "deformable": 2.0}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._average: list[torch.Tensor] | None = None
        self._n_average = 0

    @classmethod
    def default_step(cls, linear: bool, metric: str) -> float:
        # mutual information estimated from a few thousand samples has a much noisier gradient than the
        # other metrics, so stochastic descent needs shorter steps to settle (measured on case C)
        return 0.25 if linear and metric == "mi" else super().default_step(linear, metric)

    @torch.no_grad()
    def step(self, loss: torch.Tensor) -> None:
        self.k += 1
        if self.gain is None:
            self.gain = self._estimate_gain()
        a = 0.1 * self.iterations
        decay = ((a + 1) / (a + self.k)) ** 0.602
        gains = self._limited(self.gain * decay, self.step_mm * decay, [p.grad for p in self.params])
        for p, gain in zip(self.params, gains):
            p -= gain * p.grad
        if self.k > 0.7 * self.iterations:
            self._accumulate()

    def _accumulate(self) -> None:
        self._n_average += 1
        if self._average is None:
            self._average = [p.detach().clone() for p in self.params]
        else:
            for a, p in zip(self._average, self.params):
                a += (p.detach() - a) / self._n_average

    @torch.no_grad()
    def finish(self) -> None:
        for p, a in zip(self.params, self._average or []):
            p.copy_(a)


class Adam(Optimiser):
    """torch's Adam with the step decaying on a cosine to 5 % over the level (no gain to carry)."""
    full_step = {"linear": 0.3, "deformable": 0.2}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.adam = torch.optim.Adam(self.params, lr=self.step_mm)

    def step(self, loss: torch.Tensor) -> None:
        self.k += 1
        frac = (self.k - 1) / self.iterations
        for group in self.adam.param_groups:
            group["lr"] = self.step_mm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        self.adam.step()


OPTIMISERS: dict[str, type[Optimiser]] = {"gd": GradientDescent, "sgd": StochasticGradientDescent, "adam": Adam}


def converged(losses: list[float], tolerance: float, window: int = 10) -> bool:
    """True when the mean loss of the last window changed by less than `tolerance` (relative)."""
    if tolerance <= 0 or len(losses) < 2 * window:
        return False
    a = sum(losses[-2 * window:-window]) / window
    b = sum(losses[-window:]) / window
    return abs(a - b) <= tolerance * max(abs(a), 1e-12)
