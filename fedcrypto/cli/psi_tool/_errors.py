"""Error types to exit codes and messages: the tool never guesses whose fault an error is.

===============================================  ====  ==========================================
error type                                       exit  message on stderr
===============================================  ====  ==========================================
``InputFormatError``, ``InvalidArgumentError``,  2     ``your input: ...`` (this side's files or
``InvalidTypeError``                                   options)
``PeerAborted``                                  1     ``the peer aborted: <its reason>``
``PeerError``                                    1     what happened to the connection (the
                                                       peer closed it, timed out, sent garbage,
                                                       failed TLS, presented another certificate)
``SerializationError``                           1     ``the peer sent a malformed message: ...``
``InvalidGroupElementError``                     1     ``the peer sent an invalid group element:``
``InvalidSignatureError``                        1     ``the peer sent an invalid signature: ...``
``RemoteProtocolError`` (other)                  1     ``the peer sent an unacceptable message:``
``LocalProtocolError``, other ``FedCryptoError``, 1    ``this side failed: ...``
``OSError``, anything else
``SchedulerUnreachableError``                    2     ``your options: cannot reach the Dask
                                                       scheduler at <address>: ...``
``KeyboardInterrupt`` (Ctrl-C, SIGTERM)          130   ``interrupted``
===============================================  ====  ==========================================

Each class also says what a connected peer is told in the ABORT frame: details of what the
peer sent go back to it; details of this side's failures (paths, local errors) do not.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..._immutable import Immutable
from ...exceptions import (
    FedCryptoError,
    InputFormatError,
    InvalidArgumentError,
    InvalidGroupElementError,
    InvalidSignatureError,
    InvalidTypeError,
    LocalProtocolError,
    PeerError,
    RemoteProtocolError,
    SchedulerUnreachableError,
    SerializationError,
)
from ._net import PeerAborted

__all__ = ["Outcome", "classify", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED"]

EXIT_OK = 0
#: The peer sent something wrong, the connection failed, or this side failed.
EXIT_FAILED = 1
#: This side's input files or options are unusable.
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Outcome(Immutable):
    """How the tool ends for an error: ``code`` (exit status), ``message`` (after
    ``fedcrypto psi: error:``), ``tell_peer`` (ABORT reason, None to send none), ``fault``
    (``"input"``, ``"peer"``, ``"local"`` or ``"interrupted"``)."""

    code: int
    message: str
    tell_peer: str | None
    fault: str


def classify(exc: BaseException) -> Outcome:
    """Map an exception to its :class:`Outcome` by type (see the module docstring)."""
    text = str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return Outcome(EXIT_INTERRUPTED, "interrupted", "it was interrupted", "interrupted")
    if isinstance(exc, PeerAborted):
        return Outcome(EXIT_FAILED, text, None, "peer")
    if isinstance(exc, PeerError):
        return Outcome(EXIT_FAILED, text, f"it gave up: {text}", "peer")
    if isinstance(exc, SerializationError):
        return Outcome(
            EXIT_FAILED,
            f"the peer sent a malformed message: {text}",
            f"it could not parse our message: {text}",
            "peer",
        )
    if isinstance(exc, RemoteProtocolError):
        what = (
            "an invalid group element"
            if isinstance(exc, InvalidGroupElementError)
            else "an invalid signature"
            if isinstance(exc, InvalidSignatureError)
            else "an unacceptable message"
        )
        return Outcome(
            EXIT_FAILED, f"the peer sent {what}: {text}", f"it rejected our data: {text}", "peer"
        )
    if isinstance(exc, SchedulerUnreachableError):
        return Outcome(
            EXIT_USAGE, f"your options: {text}", "it could not start its workers", "input"
        )
    if isinstance(exc, InputFormatError | InvalidArgumentError | InvalidTypeError):
        return Outcome(
            EXIT_USAGE,
            f"your input: {text}",
            "it stopped: its input or options are unusable",
            "input",
        )
    if isinstance(exc, LocalProtocolError | FedCryptoError):
        return Outcome(EXIT_FAILED, f"this side failed: {text}", "it failed on its side", "local")
    if isinstance(exc, OSError):
        detail = exc.strerror or text or type(exc).__name__
        if exc.filename:
            detail += f": {exc.filename}"
        return Outcome(
            EXIT_FAILED, f"this side failed: {detail}", "it failed with a local I/O error", "local"
        )
    return Outcome(
        EXIT_FAILED,
        f"this side failed with an internal error: {type(exc).__name__}: {text} "
        "(set FEDCRYPTO_DEBUG=1 for details)",
        "it failed with an internal error",
        "local",
    )
