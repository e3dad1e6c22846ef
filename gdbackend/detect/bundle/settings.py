"""The detector settings a detection bundle makes before its evaluator runs (the zoo's "detector_ops":
`$@detector.set_box_selector_parameters(score_thresh=0.02, ...)`, `$@detector.set_sliding_window_inferer(...)`).

MONAI evaluates these method calls with `eval`; here each must be one call of a known setter on the bundle's
detector, with arguments that are plain data or simple expressions (bundle_expressions), evaluated without
running bundle code. A trusted bundle's settings are evaluated by MONAI itself.
"""
from __future__ import annotations

import re

from ...errors import ModelError
from ...segment.bundle import DETECTOR
from ...segment.bundle_config import PLACED_BY_GDIMAGING, setting
from ...segment.bundle_expressions import Untrusted

# RetinaNetDetector's setters that matter for inference and take only data
SETTERS = ("set_target_keys", "set_box_selector_parameters", "set_sliding_window_inferer", "set_box_coder_weights")
CALL = re.compile(r"\$\s*@([\w#:]+)\s*\.\s*(\w+)\s*\((.*)\)\s*", re.DOTALL)


def required(parser) -> list[str]:
    """The ids of the items MONAI evaluates before the evaluator (its `_requires_`: the zoo's "detector_ops")."""
    evaluator = parser.config.get("evaluator")
    needs = evaluator.get("_requires_", []) if isinstance(evaluator, dict) else []
    needs = needs if isinstance(needs, list) else [needs]
    return [n[1:] for n in needs if isinstance(n, str) and n.startswith("@")]


def apply_settings(parser, detector, trusted: bool) -> None:
    """Make the bundle's detector settings on `detector` (built from `parser`'s config), as MONAI makes them
    before its evaluator runs; then leave where windows run to GDImaging's --device (PLACED_BY_GDIMAGING).

    Raises:
        Untrusted: a setting of a bundle that is not trusted needs its own code.
    """
    for id in required(parser):
        if trusted:
            parser.get_parsed_content(id)  # the same parser built the detector: MONAI calls the setters on it
            continue
        calls = parser[id]
        for call in calls if isinstance(calls, list) else [calls]:
            _call(parser, detector, call, f"{id} {str(call)[:80]!r}")
    inferer = getattr(detector, "inferer", None)
    for name in PLACED_BY_GDIMAGING:
        if hasattr(inferer, name):
            setattr(inferer, name, None)


def _call(parser, detector, call, where: str) -> None:
    found = CALL.fullmatch(call) if isinstance(call, str) else None
    if found is None or found.group(1) != DETECTOR or found.group(2) not in SETTERS:
        raise Untrusted(f"The bundle's {where} runs code: GDImaging calls only {', '.join(SETTERS)} on the "
                        f"bundle's @{DETECTOR}")
    # the call's own argument list, evaluated as the arguments of a function that returns them
    args, kwargs = setting(parser, f"$(lambda *args, **kwargs: [args, kwargs])({found.group(3)})", where)
    try:
        getattr(detector, found.group(2))(*args, **kwargs)
    except (TypeError, ValueError) as e:  # arguments this MONAI's setter does not take
        raise ModelError(f"The bundle's {where} fails: {type(e).__name__}: {e}.") from None
