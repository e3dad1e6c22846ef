"""`gd register`: register two image files and write an ITK transform (and the resampled image).

Its options are options.RegistrationOptions's, and the engine (with torch) is imported only when a
registration runs, so that `gd --help` starts at once."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..cli import IMAGE_HELP
from ..errors import InputError
from .options import DEFAULTS, OPTIONS, RegistrationOptions
from .presets import all_presets, shipped_presets


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("register", help="gradient-descent image registration",
                       description="Find the transform that maps FIXED points onto MOVING points (ITK convention).")
    p.add_argument("fixed", help=f"the image the result lives on: {IMAGE_HELP}")
    p.add_argument("moving", help="the image the transform maps into, the same way")
    p.add_argument("--fixed-mask")
    p.add_argument("--moving-mask")
    group = p.add_argument_group("registration")
    group.add_argument("--preset", help="start from a preset's options (those given here win): "
                       f"{', '.join(shipped_presets())}, or one of --presets-file")
    group.add_argument("--presets-file", help="a JSON file of your own presets (the form of GDImaging's presets.json)")
    # option values absent unless given, so that a preset's own are not overridden by defaults
    for o in OPTIONS.values():
        default = ",".join(o.default) if o.name == "transform" else o.default   # shown in the help
        help = f"{o.help} (default: {'none' if default is None else default})"
        if o.types[0] is bool:
            group.add_argument(*o.flags, dest=o.name, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=o.help)
        else:
            group.add_argument(*o.flags, dest=o.name, type=o.types[0], default=argparse.SUPPRESS,
                               choices=o.choices or None, help=help,
                               nargs="+" if list in o.types and o.types[0] is int else None)
    p.add_argument("--output-transform", required=True, help="the transform file, of --output-type: .tfm/.txt/.h5 "
                   "(linear, bspline), .h5/.nii.gz/.nrrd (displacement)")
    p.add_argument("--output-image", help="moving image resampled onto the fixed grid")
    p.add_argument("--json", action="store_true", help="print one JSON summary line")
    p.set_defaults(run=run)


def _options(args: argparse.Namespace) -> RegistrationOptions:
    """The options given on the command line, over a preset's when one is named, over the defaults."""
    given = {name: getattr(args, name) for name in DEFAULTS if hasattr(args, name)}
    if not args.preset:
        return RegistrationOptions.from_values(given)
    text = ""
    if args.presets_file:
        try:
            text = Path(args.presets_file).read_text()
        except OSError as e:
            raise InputError(f"Cannot read the presets file {args.presets_file}: {e.strerror}.") from None
    presets = all_presets(text)
    if args.preset not in presets:
        raise InputError(f"Unknown preset {args.preset!r}: use one of {', '.join(presets)}.")
    return presets[args.preset].registration_options(**given)


def run(args: argparse.Namespace) -> int:
    from ..progress import ProgressBar
    from ..resources import check_output
    from ..volume import Volume
    from .engine import register

    options = _options(args)
    fixed, moving = Volume.read(args.fixed), Volume.read(args.moving)
    masks = [Volume.read(p) if p else None for p in (args.fixed_mask, args.moving_mask)]
    check_output(args.output_transform, 8 * fixed.ndim * fixed.array.size, "transform")  # at most a dense field
    if args.output_image:
        check_output(args.output_image, 4 * fixed.array.size, "image")
    bar = ProgressBar(options.total_iterations(), "register")

    def progress(event: dict) -> None:
        bar.update(event["done"], f"{event['stage']} L{event['level']} loss {event['loss']:.5g}")

    result = register(fixed, moving, fixed_mask=masks[0], moving_mask=masks[1], options=options,
                      progress=progress)
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
