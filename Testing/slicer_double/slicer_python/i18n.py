"""`slicer.i18n` of the double: Slicer's translation helpers (mirrors i18n.py).

Strings go through `slicer.app.translate` as in Slicer, so they come back unchanged unless a Qt
translator is installed; outside the application (`slicer.app` missing) they are returned as given.
"""
from __future__ import annotations

import inspect
import logging
import os
import re

# A replacement field "{name}" that is not an escaped "{{...}}" (i18n.py)
_PLACEHOLDER = re.compile(r"(?<!\{)\{([^{}]+)\}(?!\})")


def translate(context: str, text: str) -> str:
    """`text` in the application language; unchanged where there is no application (PythonSlicer)."""
    try:
        from slicer import app
    except ImportError:
        return text
    return app.translate(context, text)


def getContext(sourceFile: str) -> str:
    """Translation context of a source file: "<package>.<file stem>" inside a package, else "<file stem>";
    for a path that is not a file (e.g. "<string>"), its base name. (Slicer caches these for speed.)"""
    if not os.path.isfile(sourceFile):
        return os.path.basename(sourceFile)
    folder, name = os.path.split(sourceFile)
    stem = name.removesuffix(".py")
    if os.path.isfile(os.path.join(folder, "__init__.py")):
        return f"{os.path.basename(folder)}.{stem}"
    return stem


def tr(text: str) -> str:
    """`translate` with the caller's file as context (imported as `_`). A translation that changes the
    set of "{placeholders}" is refused with a warning, so that a later `.format(...)` cannot fail."""
    caller = inspect.currentframe().f_back
    context = getContext(inspect.getsourcefile(caller) or inspect.getfile(caller))
    translated = translate(context, text)
    if set(_PLACEHOLDER.findall(text)) != set(_PLACEHOLDER.findall(translated)):
        logging.warning(f"In context '{context}', translation of '{text}' to '{translated}' is incorrect: "
                        "placeholders do not match")
        return text
    return translated
