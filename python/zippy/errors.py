"""Exceptions of the zippy package.

Every ``ZIPPY_E*`` code of the C library maps to exactly one class below, each
a subclass of :class:`ZippyError` and of the built-in exception a Python user
would expect (a missing document is a ``KeyError``, a locked store an
``OSError``, a strict-schema violation a ``ValueError``...). The instance
carries the library's code in ``.code`` and its message (which names the
store, collection, id or byte offset) as ``str(exc)``.

The C extension reads ``_BY_CODE`` when it is imported, so this module must
not import anything from the package.
"""


class ZippyError(Exception):
    """Base class of every error raised by the zippy engine."""

    code = None  # the library's ZIPPY_E* code (negative int)

    def __str__(self):
        # KeyError would repr() its argument; the message reads better plain.
        if len(self.args) == 1:
            return str(self.args[0])
        return super().__str__()


class NotFoundError(ZippyError, KeyError, FileNotFoundError):
    """ZIPPY_ENOTFOUND: no such document, collection or store.

    A ``KeyError`` (missing document) and a ``FileNotFoundError`` (missing
    store or collection opened with ``create=False``)."""


class AlreadyExistsError(ZippyError, FileExistsError):
    """ZIPPY_EEXISTS: the target already exists."""


class InvalidArgumentError(ZippyError, ValueError):
    """ZIPPY_EINVAL: invalid id or collection name, malformed JSON, bad filter."""


class CorruptError(ZippyError):
    """ZIPPY_ECORRUPT: data failed a checksum or a structural check."""


class LockedError(ZippyError, OSError):
    """ZIPPY_ELOCKED: another process holds the collection's writer lock."""


class ZippyIOError(ZippyError, OSError):
    """ZIPPY_EIO: an operating-system I/O call failed."""


class ZippyMemoryError(ZippyError, MemoryError):
    """ZIPPY_ENOMEM: an allocation failed."""


class ReadOnlyError(ZippyError, PermissionError):
    """ZIPPY_EREADONLY: a write through a read-only store or handle."""


class SchemaError(ZippyError, ValueError):
    """ZIPPY_ESCHEMA: a document does not match a strict collection's schema.

    The message starts with "Schema mismatch:", from ``put`` as from
    ``put_batch``/``write_jsonl``, where the failing line follows it
    ("Schema mismatch: (line N of the batch) document ..."; the documents
    before that line stay written)."""


class NoSpaceError(ZippyError, OSError):
    """ZIPPY_ENOSPC: the disk is full (nothing acknowledged was lost)."""


class TooBigError(ZippyError, ValueError):
    """ZIPPY_ETOOBIG: input over a documented size limit (64 MiB per document)."""


class ClosedError(ZippyError, ValueError):
    """ZIPPY_ECLOSED: the store, collection or root handle is closed."""


class BusyError(ZippyError, RuntimeError):
    """ZIPPY_EBUSY: the collection changed under an iterator (compaction), or
    a handle is closed while another thread uses it."""


class UnsupportedError(ZippyError, RuntimeError):
    """ZIPPY_EUNSUPPORTED: a feature or a format version this library lacks."""


_BY_CODE = {
    -1: NotFoundError,
    -2: AlreadyExistsError,
    -3: InvalidArgumentError,
    -4: CorruptError,
    -5: LockedError,
    -6: ZippyIOError,
    -7: ZippyMemoryError,
    -8: ReadOnlyError,
    -9: SchemaError,
    -10: NoSpaceError,
    -11: TooBigError,
    -12: ClosedError,
    -13: BusyError,
    -14: UnsupportedError,
}

for _code, _cls in _BY_CODE.items():
    _cls.code = _code
del _code, _cls

__all__ = ["ZippyError"] + sorted(c.__name__ for c in _BY_CODE.values())
