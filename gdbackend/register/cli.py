"""`gd register`: register two image files and write an ITK transform (and the resampled image)."""
from __future__ import annotations

import argparse
import json

from ..errors import InputError
from ..progress import ProgressBar
from ..resources import check_output
from ..volume import Volume
from . import METRICS, OPTIMIZERS, TRANSFORMS, register


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("register", help="gradient-descent image registration",
                       description="Find the transform that maps FIXED points onto MOVING points (ITK convention).")
    p.add_argument("fixed")
    p.add_argument("moving")
    p.add_argument("--transform", default="affine",
                   help=f"one of {', '.join(TRANSFORMS)}, or stages joined by commas, e.g. rigid,affine,bspline")
    p.add_argument("--metric", default="mse", choices=METRICS)
    p.add_argument("--fixed-mask")
    p.add_argument("--moving-mask")
    p.add_argument("--levels", type=int, default=3)
    p.add_argument("--iterations", type=int, nargs="+", help="per level (one value for all levels)")
    p.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    p.add_argument("--learning-rate", type=float, help="step length in mm at the finest level")
    p.add_argument("--samples", type=int, help="random voxels per iteration (0: all voxels)")
    p.add_argument("--tolerance", type=float, default=1e-6, help="relative loss change that ends a level")
    p.add_argument("--init", default="centers", choices=("centers", "moments", "none"))
    p.add_argument("--grid-spacing", type=float, help="final B-spline control point spacing in mm")
    p.add_argument("--regularization", type=float, help="weight of bending energy / diffusion")
    p.add_argument("--diffeomorphic", action="store_true", help="dense: stationary velocity field")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output-transform", required=True, help=".tfm/.txt (linear), .h5/.nii.gz (deformable)")
    p.add_argument("--output-image", help="moving image resampled onto the fixed grid")
    p.add_argument("--json", action="store_true", help="print one JSON summary line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    stages = [s.strip() for s in args.transform.split(",") if s.strip()]
    bad = [s for s in stages if s not in TRANSFORMS]
    if bad or not stages:
        raise InputError(f"Unknown transform {bad or args.transform!r}: use {', '.join(TRANSFORMS)}.")
    fixed, moving = Volume.read(args.fixed), Volume.read(args.moving)
    masks = [Volume.read(p) if p else None for p in (args.fixed_mask, args.moving_mask)]
    check_output(args.output_transform, 8 * fixed.ndim * fixed.array.size, "transform")  # at most a dense field
    if args.output_image:
        check_output(args.output_image, 4 * fixed.array.size, "image")
    iterations = args.iterations[0] if args.iterations and len(args.iterations) == 1 else args.iterations
    per_level = iterations if isinstance(iterations, list) else [iterations or 300] * args.levels
    bar = ProgressBar(sum(per_level) * len(stages), "register")
    done = [0]

    def progress(event: dict) -> None:
        done[0] += 1
        bar.update(done[0], f"{event['stage']} L{event['level']} loss {event['loss']:.5g}")

    result = register(fixed, moving, stages, args.metric, fixed_mask=masks[0], moving_mask=masks[1],
                      levels=args.levels, iterations=iterations, optimizer=args.optimizer,
                      learning_rate=args.learning_rate, samples=args.samples, tolerance=args.tolerance,
                      initialize=args.init, grid_spacing=args.grid_spacing, regularization=args.regularization,
                      diffeomorphic=args.diffeomorphic, device=args.device, seed=args.seed, progress=progress)
    bar.close()
    result.save(args.output_transform)
    if args.output_image:
        result.resample(moving).write(args.output_image)
    if args.json:
        print(json.dumps(result.summary()))
    else:
        print(f"{result.summary()['transform']}: loss {result.final_loss:.6g} after {result.iterations} iterations "
              f"in {result.seconds:.2f} s -> {args.output_transform}")
    return 0
