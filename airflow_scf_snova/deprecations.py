"""Renamed arguments and classes: still accepted for one release, with a ``DeprecationWarning``
that names the replacement."""

from __future__ import annotations

import warnings


def warn_renamed(owner: str, old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``owner``'s argument (or name) ``old`` is now ``new``.

    :param owner: the class or function, e.g. ``SCFDeployFunctionOperator``.
    :param old: the deprecated name.
    :param new: its replacement.
    :param stacklevel: as for :func:`warnings.warn`.
    """
    warnings.warn(
        f"{owner}: {old!r} is deprecated and will be removed in the next release; use {new!r}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
