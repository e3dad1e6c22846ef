"""Levenberg-Marquardt refinement of a linear stage at its finest level, for the least-squares metrics.

Stochastic descent finds the basin fast but converges slowly inside it when the parameters' curvatures differ
(shear against translation): off its benchmark cases a 1 mm affine still stood 0.02-0.07 mm from the optimum after
its finest level, and only three times the iterations closed that gap. Mean squares is a sum of squared
residuals, so its Hessian is J^T J from one pass of per-sample image gradients: a few Gauss-Newton steps on a large
fixed sample set then land on the optimum whatever the conditioning. Correlation is a least-squares problem too,
with a linear intensity map as two extra parameters: min over a, b of |a m + b - f|^2 is |f - mean f|^2 (1 - ncc^2).

A step that does not lower the metric is taken back and retried with more damping (Levenberg-Marquardt), so the
refinement never leaves the transform worse than stochastic descent left it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch

from .linear import LinearTransform, affine_points, normalised_map
from .metrics import Metric
from .options import REFINE_STEPS
from .pyramid import Grid, smoothed
from .sampling import Level, Samples, read_at

# most fixed samples the steps share, by dimension (taken from the finest level's own: n/2 to n of them). Fewer made
# the sampled metric's minimum the limit: mean TRE on the 1 mm brain 0.010 mm with 2^17, 0.0044 mm with 2^19.6 (the
# finest level's subset, 0.4 s less than a fresh draw) and 0.0033 mm with 2^20 fresh; SimpleITK reaches 0.0055 mm
REFINE_POINTS = {2: 1 << 18, 3: 1 << 20}
# a step moving no parameter further than this (mm) ends the refinement: on D, S1-S3 and CT the step after one
# that short was always taken back (the sampled metric's minimum), so 1e-4 mm only paid for that step (0.1 s)
STOP_MM = 1e-2
MIN_DAMPING, RETRIES = 1e-7, 2     # a step that raises the metric is retried with 10 times the damping (at least 1)


def refine(model: LinearTransform, level: Level, coarser: Grid | None, metric: Metric, correlation: bool,
           samples: Samples, stop_early: bool, report: Callable[[float, bool], None]) -> None:
    """Move `model`'s parameters to the metric's minimum near where they are, in up to REFINE_STEPS steps.

    Args:
        model: the stage's transform; its parameters are in mm.
        level: the finest level (its images and sampling frame).
        coarser: the next coarser moving grid (the finest smoothed by a Gaussian of one fine voxel), whose
            gradients make the Jacobian; None: smooth the finest here.
        metric: the stage's metric, which decides whether a step is kept.
        correlation: fit a linear intensity map too (the ncc metric).
        samples: the fixed samples the steps share.
        stop_early: end once a step moves no parameter more than STOP_MM, or none lowers the metric.
        report: called with each step's metric value, and whether it is the last of an early stop.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    size = sum(p.numel() for p in params)
    smooth = coarser if coarser is not None else replace(level.moving, array=smoothed(level.moving.array, 1.0))
    theta_of = normalised_map(model, level.normalised_to_physical, level.moving.physical_to_normalised)
    smooth_theta_of = normalised_map(model, level.normalised_to_physical, smooth.physical_to_normalised)
    x = samples.points
    damping = 1e-3
    loss, (f, m, w) = _metric(level, metric, theta_of, samples)
    for _ in range(REFINE_STEPS):
        hess, rhs = _normal_equations(f, m, w, _image_gradients(smooth.array, smooth_theta_of, x), x,
                                      _theta_jacobian(smooth_theta_of, params), correlation)
        start = [p.detach().clone() for p in params]
        moved = 0.0
        for _ in range(RETRIES):
            lhs = hess + damping * torch.diag(hess.diagonal().clamp_min(1e-12))
            delta = -torch.linalg.solve(lhs, rhs)[:size]
            _move(params, start, delta)
            trial, values = _metric(level, metric, theta_of, samples)
            if trial <= loss:
                damping, moved = max(damping / 10, MIN_DAMPING), float(delta.abs().max())
                loss, (f, m, w) = trial, values
                break
            damping = max(damping * 10, 1.0)
        else:               # no step lowers the metric: the minimum is (to sampling noise) where the parameters were
            _move(params, start, torch.zeros_like(delta))
        stop = stop_early and moved < STOP_MM
        report(loss, stop)
        if stop:
            return


def _move(params: list[torch.nn.Parameter], start: list[torch.Tensor], delta: torch.Tensor) -> None:
    with torch.no_grad():
        offset = 0
        for p, p0 in zip(params, start):
            p.copy_(p0 + delta[offset:offset + p.numel()].reshape(p.shape).to(p.dtype))
            offset += p.numel()


@torch.no_grad()
def _metric(level: Level, metric: Metric, theta_of: Callable[[], torch.Tensor],
            samples: Samples) -> tuple[float, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The metric at the current transform, and the fixed and moving intensities and weights (N,) behind it."""
    f, m, w = level.values(affine_points(samples.points, theta_of().float()), samples)
    return float(metric(f, m, w)), (f.reshape(-1), m.reshape(-1), w.reshape(-1))


def _image_gradients(smooth: torch.Tensor, theta_of: Callable[[], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """d moving value / d normalised coordinate (N, d) at the samples x (N, d), of the moving image smoothed by a
    Gaussian of one voxel: the gradients of the image as the metric reads it carry its noise, whose squares inflate
    J^T J (steps half as long as they should be on a noisy brain) and whose products with the residuals pull the
    steps about (they overshot by millimetres)."""
    with torch.no_grad():
        coords = affine_points(x, theta_of().float()).requires_grad_()
    return torch.autograd.grad(read_at(smooth, coords).sum(), coords)[0]


def _theta_jacobian(theta_of: Callable[[], torch.Tensor], params: list[torch.nn.Parameter]) -> torch.Tensor:
    """d theta / d parameters ((d (d+1)) x P): a dozen backward passes through a few small matrices."""
    theta = theta_of().reshape(-1)
    rows = []
    for entry in theta:
        grads = torch.autograd.grad(entry, params, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                               for g, p in zip(grads, params)]))
    return torch.stack(rows)


def _normal_equations(f: torch.Tensor, m: torch.Tensor, w: torch.Tensor, grad: torch.Tensor, x: torch.Tensor,
                      theta_jac: torch.Tensor, correlation: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """J^T J (P x P) and J^T r (P,) of the residuals r = m - f over the samples inside the moving image (and
    masks), from the image gradients (N, d) at the fixed normalised points x (N, d). The products are taken over
    the map's d (d+1) entries (the samples' rows never meet the parameters) and then carried to the parameters by
    d theta / d parameters ((d (d+1)) x P)."""
    keep = w > 0
    f, m, grad, x = f[keep], m[keep], grad[keep], x[keep]
    d = x.shape[1]
    rows = (grad[:, :, None] * torch.cat([x, torch.ones_like(x[:, :1])], 1)[:, None, :]).reshape(-1, d * (d + 1))
    carry = theta_jac
    resid = m - f
    if correlation:     # the intensity map a m + b closest to f, and its two parameters as extra columns
        mc = m - m.mean()
        a = (mc * (f - f.mean())).sum() / (mc * mc).sum().clamp_min(1e-12)
        resid = a * m + f.mean() - a * m.mean() - f
        rows = torch.cat([a * rows, m[:, None], torch.ones_like(m[:, None])], 1)
        carry = torch.block_diag(theta_jac, torch.eye(2, dtype=theta_jac.dtype, device=theta_jac.device))
    hess = (rows.T @ rows).double()
    return carry.T @ hess @ carry, carry.T @ (rows.T @ resid).double()
