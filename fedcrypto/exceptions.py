"""Typed errors raised by fedcrypto.

Every error derives from :class:`FedCryptoError`.  Errors caused by a caller's
arguments also derive from the matching built-in (``ValueError``, ``TypeError``,
``OverflowError``) so code that already catches those keeps working.

Messages never contain secret values (keys, plaintexts, shares, seeds).
Packages may add subclasses here; keep one class per distinct failure a caller
might want to handle.
"""

from __future__ import annotations

__all__ = [
    "FedCryptoError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "BackendUnavailableError",
    "KernelError",
    "SerializationError",
    "InvalidCiphertext",
    "KeyMismatchError",
    "EncodingError",
    "EncodingOverflowError",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "InvalidGroupElementError",
    "InvalidSignatureError",
    "PeerError",
    "InputFormatError",
    "WorkerLostError",
    "SchedulerUnreachableError",
    "BucketOverflowError",
]


class FedCryptoError(Exception):
    """Base class of every error raised by fedcrypto."""


class InvalidArgumentError(FedCryptoError, ValueError):
    """An argument has the right type but an unacceptable value (range, size, parity...)."""


class InvalidTypeError(FedCryptoError, TypeError):
    """An argument has the wrong type, dtype or memory layout."""


class BackendUnavailableError(FedCryptoError, RuntimeError):
    """The requested arithmetic backend (``FEDCRYPTO_BACKEND``) cannot be loaded."""


class KernelError(FedCryptoError, RuntimeError):
    """The native kernel stopped a batch because a reduction exceeded its proven bound.

    No result is produced.  It means either that an input array was changed by another
    thread while the kernel ran (the GIL is released during a batch), or a kernel bug:
    please report it.  The kernel never loops on such a case.
    """


class SerializationError(FedCryptoError, ValueError):
    """Bytes that should hold a fedcrypto object are malformed, truncated, of the wrong
    type or of an unsupported format version."""


class InvalidCiphertext(FedCryptoError, ValueError):
    """A ciphertext is outside the ciphertext space of its key."""


class KeyMismatchError(FedCryptoError, ValueError):
    """Objects made under different keys (or parameters) were combined."""


class EncodingError(FedCryptoError, ValueError):
    """Values cannot be encoded (NaN, infinity, wrong kind) or encodings are incompatible."""


class EncodingOverflowError(FedCryptoError, OverflowError):
    """A value, or the result of homomorphic operations, does not fit its encoding."""


class ProtocolError(FedCryptoError):
    """A protocol run cannot continue.

    Never raised as such: every protocol error is either a :class:`LocalProtocolError`
    (this side's caller misused the API) or a :class:`RemoteProtocolError` (a peer
    sent something wrong), so a caller can tell whose fault it is by type, as h11
    does.  ``except ProtocolError`` still catches both.
    """


class LocalProtocolError(ProtocolError):
    """The caller misused a protocol object: a method called out of order or twice, a
    message fed to the wrong party, too few parties left to continue, or a request
    that this side refuses because it would break the protocol's security."""


class RemoteProtocolError(ProtocolError):
    """A peer broke the protocol: a message that is malformed, out of order, replayed,
    inconsistent with what it announced, or a request that would break security.

    Raised at the single door where peer data enters an object (``handle``,
    ``decode_message``, ``from_bytes`` of a peer message)."""


class InvalidGroupElementError(RemoteProtocolError, ValueError):
    """A peer sent a point or group element that is not in the expected (sub)group."""


class InvalidSignatureError(RemoteProtocolError, ValueError):
    """A signature received from a peer does not verify."""


class PeerError(RemoteProtocolError):
    """The peer disconnected, timed out, or sent frames that cannot be parsed."""


class InputFormatError(FedCryptoError, ValueError):
    """An input file cannot be used (missing column, bad encoding, ragged rows, empty...)."""


class WorkerLostError(FedCryptoError, RuntimeError):
    """A worker of the caller's executor died or was lost (killed, out of memory, cluster
    gone) and the task could not be completed.  No partial result is produced."""


class SchedulerUnreachableError(FedCryptoError, ConnectionError):
    """The Dask scheduler named by the caller could not be reached (the message names the
    address)."""


class BucketOverflowError(FedCryptoError, RuntimeError):
    """Partitioned PSI: this party's items filled one bucket past its public padded size.

    It happens with negligible probability for honest, distinct inputs (see
    ``docs/scale-out.md``); the run is aborted before anything about the buckets is sent.
    Re-run: a new session re-keys the bucket assignment."""
