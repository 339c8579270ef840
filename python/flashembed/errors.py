"""flashembed's exceptions: one class per status code of the C++ library.

Every error the database reports is a :class:`Error`; its subclass names the
code and its message is the library's (``str(e)``). Where a built-in
exception means the same, the class derives from it too, so
``except ValueError`` catches :class:`InvalidArgument`.
"""

from __future__ import annotations

__all__ = [
    "Error",
    "NotFound",
    "InvalidArgument",
    "AlreadyExists",
    "Corruption",
    "IOError",
    "NotSupported",
    "ResourceExhausted",
    "Cancelled",
    "InternalError",
]

_builtin_oserror = OSError


class Error(Exception):
    """Base class of every error flashembed reports."""

    #: The C++ status code name ("not_found", "invalid_argument", ...).
    code = "unknown"


class NotFound(Error, LookupError):
    """A collection, document or file that does not exist."""

    code = "not_found"


class InvalidArgument(Error, ValueError):
    """Bad input: a filter that does not parse, a vector of the wrong dimension,
    an array that is not numbers, an unknown option value, ..."""

    code = "invalid_argument"


class AlreadyExists(Error):
    """A collection name or document id that is taken (use upsert to replace)."""

    code = "already_exists"


class Corruption(Error):
    """Stored data that fails its checks."""

    code = "corruption"


class IOError(Error, _builtin_oserror):  # noqa: A001 - the library's name for the code
    """The filesystem refused: unreadable, no space left, read-only, or the
    folder is held by another process."""

    code = "io_error"


class NotSupported(Error):
    """A valid request this database cannot serve (a write on a read-only
    database, a text query on a vector-only collection, ...)."""

    code = "not_supported"


class ResourceExhausted(Error):
    """A limit was reached (an input file larger than allowed, ...)."""

    code = "resource_exhausted"


class Cancelled(Error):
    """The database was closed."""

    code = "cancelled"


class InternalError(Error):
    """A failure inside the library (its in-memory index could not be rebuilt, ...)."""

    code = "internal"
