"""The project's exceptions: every message says what is wrong and what to do about it."""


class GDError(Exception):
    """Base of every error the backend raises on purpose."""


class InputError(GDError, ValueError):
    """Bad input data or arguments: a volume, a mask, a file, an option."""


class ModelError(GDError):
    """A model file that cannot be used for the requested task."""


class ResourceError(GDError):
    """Not enough memory or disk space, or an unwritable location."""


class Cancelled(GDError):
    """The caller asked to stop; nothing was written."""
