"""``create_party``: the factory that picks the party class for a protocol.

It lives apart from :mod:`._party` (the base class) so that the protocol modules import the
base class and this module imports the protocol modules, all at module level: the
dependencies run one way (``_factory`` -> ``_rsa`` / ``_commutative`` -> ``_party``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

from ..exceptions import InvalidArgumentError, InvalidTypeError
from ..hazmat.rsa_blind import RsaBlindKey
from ._join import InMemoryJoin, JoinProvider, SpillingJoin
from ._partitioned import BucketDoneFn, PartitionedParty
from ._party import ProgressFn, PsiParty, PsiResult
from ._settings import ROLES, PsiSettings, check_session_id
from ._single import single_party

__all__ = ["create_party"]


def create_party(
    settings: PsiSettings,
    *,
    role: str,
    items: Sequence[bytes],
    peer_size: int,
    session_id: bytes,
    workdir: str | None = None,
    progress: ProgressFn | None = None,
    rsa_key: RsaBlindKey | None = None,
    executor: Executor | None = None,
    join: JoinProvider | None = None,
    finished: Mapping[int, PsiResult] | None = None,
    on_bucket_done: BucketDoneFn | None = None,
    randomness_seed: bytes | None = None,
) -> PsiParty:
    """Create this side of a PSI run.

    :param settings: the agreed settings (validated here).
    :param role: ``"listener"`` or ``"connector"``; the two sides must take different roles.
        With RSA the role decides who holds the key (see ``docs/psi.md``).
    :param items: this party's identifiers, already normalised and deduplicated (not checked
        here, to keep memory flat: a repeated item is simply reported at each position, and
        the peer sees that two masked values are equal).
    :param peer_size: the number of items the peer announced.
    :param session_id: 32 bytes agreed in the handshake; enters every domain-separation tag.
    :param workdir: shorthand for ``join=SpillingJoin(workdir, settings.memory_budget)``
        (kept for compatibility; pass ``join`` instead).
    :param progress: ``progress(phase, done, total)`` callback; phases ``"hashing"``,
        ``"masking own"``, ``"masking peer's"``, ``"matching"``.
    :param rsa_key: RSA only, optional: a :class:`fedcrypto.hazmat.rsa_blind.RsaBlindKey` to
        use when this party is the signer (default: a fresh key per session); ignored
        when this party is the client.
    :param executor: any :class:`concurrent.futures.Executor` that runs the hashing and
        exponentiation chunks (a :func:`fedcrypto.scale.process_executor` pool, a Dask
        cluster...); None runs them inline in this process.  The caller owns it and shuts
        it down; results never depend on it.
    :param join: where the matching step keeps the tags: :class:`InMemoryJoin` (the
        default) or :class:`SpillingJoin` (spill files under a directory of the caller's).
    :param finished: partitioned runs (``settings.buckets > 1``) resumed from a checkpoint:
        the results of the buckets both sides already completed in the same session.
    :param on_bucket_done: partitioned runs: ``on_bucket_done(bucket, result)`` after each
        bucket finishes (indices already mapped to positions in ``items``), to checkpoint.
    :param randomness_seed: partitioned ECDH/DH runs that may be resumed: 32 secret random
        bytes (keep them like a private key, in the checkpoint) from which every bucket's
        secret scalar, permutation and dummies are derived, so that a bucket re-run after a
        crash sends exactly the messages it sent before.  Use one seed for one session only.
    :returns: a :class:`PsiParty` (a :class:`PartitionedParty` when ``settings.buckets > 1``).
    :raises BucketOverflowError: partitioned runs, a bucket past its padded size (re-run).
    :raises InvalidArgumentError: for bad settings, role, sizes or session id.
    :raises InvalidTypeError: for items that are not bytes.
    """
    if not isinstance(settings, PsiSettings):
        raise InvalidTypeError("settings must be a PsiSettings")
    settings.validate()
    if settings.compute == "sum":
        raise InvalidArgumentError("compute 'sum' runs through create_sum_party")
    if role not in ROLES:
        raise InvalidArgumentError(f"role must be one of {', '.join(ROLES)}")
    session_id = check_session_id(session_id)
    if isinstance(peer_size, bool) or not isinstance(peer_size, int):
        raise InvalidTypeError("peer_size must be an int")
    if peer_size < 0:
        raise InvalidArgumentError("peer_size must be non-negative")
    if not isinstance(items, Sequence) or isinstance(items, (bytes, str)):
        raise InvalidTypeError("items must be a sequence of bytes")
    if not all(isinstance(x, bytes) for x in items):
        raise InvalidTypeError("every item must be bytes")
    if executor is not None and not isinstance(executor, Executor):
        raise InvalidTypeError("executor must be a concurrent.futures.Executor or None")
    if join is None:
        join = (
            SpillingJoin(workdir, settings.memory_budget) if workdir is not None else InMemoryJoin()
        )
    elif not isinstance(join, JoinProvider):
        raise InvalidTypeError("join must be an InMemoryJoin or a SpillingJoin")
    elif workdir is not None:
        raise InvalidArgumentError("pass either join or workdir, not both")
    common: dict[str, Any] = {
        "role": role,
        "items": items,
        "peer_size": peer_size,
        "session_id": session_id,
        "executor": executor,
        "join": join,
        "progress": progress,
    }
    if settings.buckets > 1:
        if rsa_key is not None and settings.protocol != "rsa":
            raise InvalidArgumentError("rsa_key is only used by the rsa protocol")
        return PartitionedParty(
            settings,
            rsa_key=rsa_key,
            finished=_check_finished(finished, settings.buckets),
            on_bucket_done=on_bucket_done,
            randomness_seed=_check_seed(randomness_seed, settings),
            **common,
        )
    if finished or randomness_seed is not None:
        raise InvalidArgumentError(
            "finished buckets and randomness_seed only exist in a partitioned run"
        )
    return single_party(settings, rsa_key=rsa_key, **common)


def _check_finished(
    finished: Mapping[int, PsiResult] | None, buckets: int
) -> Mapping[int, PsiResult] | None:
    if finished is None:
        return None
    if not isinstance(finished, Mapping):
        raise InvalidTypeError("finished must map bucket numbers to PsiResult")
    for b, r in finished.items():
        if isinstance(b, bool) or not isinstance(b, int) or not 0 <= b < buckets:
            raise InvalidArgumentError(f"finished bucket {b!r} is not in [0, {buckets})")
        if not isinstance(r, PsiResult):
            raise InvalidTypeError("finished must map bucket numbers to PsiResult")
    return finished


def _check_seed(seed: bytes | None, settings: PsiSettings) -> bytes | None:
    if seed is None:
        return None
    if not isinstance(seed, bytes):
        raise InvalidTypeError("randomness_seed must be bytes")
    if len(seed) != 32:
        raise InvalidArgumentError("randomness_seed must be exactly 32 bytes")
    if settings.protocol == "rsa":
        raise InvalidArgumentError(
            "randomness_seed (resumable runs) is available for the ecdh and dh protocols only"
        )
    return seed
