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
    "SerializationError",
    "InvalidCiphertext",
    "KeyMismatchError",
    "EncodingError",
    "EncodingOverflowError",
    "ProtocolError",
    "InvalidGroupElementError",
    "InvalidSignatureError",
    "PeerError",
    "InputFormatError",
]


class FedCryptoError(Exception):
    """Base class of every error raised by fedcrypto."""


class InvalidArgumentError(FedCryptoError, ValueError):
    """An argument has the right type but an unacceptable value (range, size, parity...)."""


class InvalidTypeError(FedCryptoError, TypeError):
    """An argument has the wrong type, dtype or memory layout."""


class BackendUnavailableError(FedCryptoError, RuntimeError):
    """The requested arithmetic backend (``FEDCRYPTO_BACKEND``) cannot be loaded."""


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
    """A protocol run cannot continue: a peer broke the protocol, a message is out of order,
    too few parties remain, or a request would violate the protocol's security."""


class InvalidGroupElementError(ProtocolError, ValueError):
    """A peer sent a point or group element that is not in the expected (sub)group."""


class InvalidSignatureError(ProtocolError, ValueError):
    """A signature received from a peer does not verify."""


class PeerError(ProtocolError):
    """The peer disconnected, timed out, or sent frames that cannot be parsed."""


class InputFormatError(FedCryptoError, ValueError):
    """An input file cannot be used (missing column, bad encoding, ragged rows, empty...)."""
