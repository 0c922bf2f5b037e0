"""Text for messages from values that may not be printable, such as file names."""

from __future__ import annotations

import os

__all__ = ["is_unicode", "printable_path"]


def printable_path(path: str | os.PathLike[str]) -> str:
    """Return *path* as printable text, with undecodable bytes as ``\\xNN`` escapes.

    A file name that is not valid UTF-8 reaches Python with lone surrogates
    (see :func:`os.fsdecode`), and text with those cannot be printed or
    encoded.
    """
    text = os.fspath(path)
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # A surrogate that os.fsdecode cannot have made, so no byte to show.
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def is_unicode(text: str) -> bool:
    """Return whether *text* encodes to UTF-8, which fails on a lone surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
