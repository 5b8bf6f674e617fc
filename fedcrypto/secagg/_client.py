"""The client side of Bonawitz et al. secure aggregation (CCS 2017, Fig. 4), sans-I/O.

One method per round; each takes the server's message (object or bytes) and returns
the client's reply.  A message that arrives twice, out of order, or that the server
got wrong raises :class:`~fedcrypto.exceptions.RemoteProtocolError` (malformed bytes:
:class:`~fedcrypto.exceptions.SerializationError`); using the client after it aborted,
or continuing with fewer than ``t`` peers, raises
:class:`~fedcrypto.exceptions.LocalProtocolError`.  A client that has answered the
unmasking request never answers another one, which is what stops a server from
collecting both shares (self-mask seed and mask key) of the same client.

Another client can never make this one fail: an entry of the key list with an invalid
key (wrong length, non-canonical, small order, reused) or a bad signature is left out
of this client's view of U1, and a share ciphertext that does not decrypt to valid
shares is skipped (this client then holds no share of that peer's secrets; the server
recovers them from the other holders or names the peer when it cannot).
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Mapping
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..exceptions import (
    FedCryptoError,
    InvalidArgumentError,
    InvalidSignatureError,
    InvalidTypeError,
    LocalProtocolError,
    RemoteProtocolError,
    SerializationError,
)
from ..sharing import Share, shamir_split_many
from ._config import SecAggConfig
from ._crypto import (
    agree,
    decrypt_share,
    encrypt_share,
    load_public_key,
    seed_commitment,
    share_encryption_key,
    sign,
    verify,
    x25519_key_problem,
)
from ._masking import MaskAccumulator, pairwise_mask_key, self_mask_key
from ._messages import (
    AdvertiseKeys,
    ConsistencyCheck,
    ConsistencyRequest,
    KeyList,
    MaskedInput,
    Message,
    ShareDelivery,
    ShareKeys,
    UnmaskRequest,
    UnmaskResponse,
    consistency_transcript,
)
from ._shares import SHARE_WIRE_BYTES, share_from_wire, share_to_wire
from ._state import ClientState, open_state, seal_state

__all__ = ["SecAggClient"]

M = TypeVar("M", bound=Message)

_ADVERTISE, _SHARE, _MASK, _CONSISTENCY, _UNMASK, _DONE, _FAILED = range(7)
_SEED_BYTES = 32


def _coerce(msg: M | bytes, cls: type[M], session_id: bytes) -> M:
    if isinstance(msg, (bytes, bytearray, memoryview)):
        return cls.from_bytes(bytes(msg), session_id=session_id)
    if not isinstance(msg, cls):
        raise InvalidTypeError(f"expected {cls.__name__} or its bytes, got {type(msg).__name__}")
    if msg.session_id != session_id:
        raise RemoteProtocolError(f"{cls.__name__} belongs to another session")
    return msg


_PLAINTEXT_BYTES = 8 + 2 * SHARE_WIRE_BYTES


def share_plaintext(sender: int, receiver: int, key_share: Share, mask_share: Share) -> bytes:
    """Plaintext inside a share ciphertext (128 bytes):
    ``u32 sender || u32 receiver || share of s^SK (60) || share of b (60)``."""
    return (
        sender.to_bytes(4, "big")
        + receiver.to_bytes(4, "big")
        + share_to_wire(key_share)
        + share_to_wire(mask_share)
    )


def mask_input(
    x: npt.NDArray[np.uint64],
    *,
    client_id: int,
    mask_key: X25519PrivateKey,
    peers: Mapping[int, X25519PublicKey],
    seed: bytes,
    session_id: bytes,
    modulus_bits: int,
) -> npt.NDArray[np.uint64]:
    """The client's masking step: ``x + PRG(b_u) + sum_v sign(u, v) PRG(s_{u,v}) mod 2^k``.

    ``PRG(b_u)`` is keyed by :func:`self_mask_key` from the seed; each pairwise mask by
    :func:`pairwise_mask_key` from ``X25519(s_u^SK, s_v^PK)``; ``sign = +1`` if ``u < v``
    else ``-1``.  Returns a fresh uint64 array with entries in ``[0, 2^k)``.
    """
    acc = MaskAccumulator(x.shape[0], modulus_bits, initial=x)
    acc.add(self_mask_key(seed, session_id=session_id, u=client_id, modulus_bits=modulus_bits))
    for v in sorted(peers):
        secret = agree(mask_key, peers[v])
        key = pairwise_mask_key(
            secret, session_id=session_id, u=client_id, v=v, modulus_bits=modulus_bits
        )
        acc.add(key, 1 if client_id < v else -1)
    return acc.result()


class SecAggClient:
    """One client of a secure-aggregation session.

    Args:
        config: the session parameters (identical at every party).
        client_id: this client's id (must be registered in ``config``).
        signing_key: this client's long-term Ed25519 key; required in active mode,
            and its public key must be ``config.verifying_keys[client_id]``.

    Rounds (each returns the message to send to the server):
        0. :meth:`advertise_keys` -> AdvertiseKeys
        1. :meth:`share_keys` (KeyList) -> ShareKeys
        2. :meth:`masked_input` (ShareDelivery, input vector) -> MaskedInput
        3. :meth:`consistency_check` (ConsistencyRequest) -> ConsistencyCheck (active only)
        4. :meth:`unmask` (UnmaskRequest) -> UnmaskResponse
    """

    __slots__ = (
        "_b_seed",
        "_config",
        "_enc_key",
        "_gcm_keys",
        "_holder_cache",
        "_id",
        "_keys",
        "_mask_key",
        "_own_shares",
        "_received",
        "_signing_key",
        "_stage",
        "_survivors",
        "_u1",
        "_u2",
    )

    def __init__(
        self,
        config: SecAggConfig,
        client_id: int,
        *,
        signing_key: Ed25519PrivateKey | None = None,
    ) -> None:
        if not isinstance(config, SecAggConfig):
            raise InvalidTypeError("config must be a SecAggConfig")
        if not config.is_registered(client_id):
            raise InvalidArgumentError(f"client {client_id} is not registered in this session")
        if config.active:
            if not isinstance(signing_key, Ed25519PrivateKey):
                raise InvalidArgumentError("active mode needs the client's Ed25519 signing key")
            mine = signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            registered = config.verifying_keys[client_id].public_bytes(
                Encoding.Raw, PublicFormat.Raw
            )
            if mine != registered:
                raise InvalidArgumentError(
                    "signing key does not match the registered verifying key"
                )
        self._config = config
        self._id = client_id
        self._signing_key = signing_key
        self._stage = _ADVERTISE
        self._enc_key = X25519PrivateKey.generate()
        self._mask_key = X25519PrivateKey.generate()
        self._b_seed = b""
        self._keys: dict[int, tuple[X25519PublicKey, X25519PublicKey]] = {}
        self._u1: tuple[int, ...] = ()
        self._u2: frozenset[int] = frozenset()
        self._own_shares: tuple[Share, Share] | None = None
        self._received: dict[int, tuple[Share, Share]] = {}
        self._gcm_keys: dict[int, bytes] = {}
        self._holder_cache: dict[int | None, tuple[tuple[int, ...], int]] = {}
        self._survivors: tuple[int, ...] | None = None

    def __repr__(self) -> str:
        return f"SecAggClient(id={self._id}, stage={self._stage}, {self._config!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("SecAggClient holds secret keys and cannot be pickled")

    @property
    def client_id(self) -> int:
        """This client's id."""
        return self._id

    # -- helpers ----------------------------------------------------------------
    def _enter(self, stage: int, name: str, *, message: bool = True) -> None:
        """Check the round; ``message``: the call delivers a server message (a message
        in the wrong round is the server's doing; a bare call, the caller's)."""
        if self._stage == _FAILED:
            raise LocalProtocolError("this client aborted the session after an earlier error")
        if self._stage != stage:
            error = RemoteProtocolError if message else LocalProtocolError
            if self._stage > stage:
                raise error(f"{name}: round already answered (replayed or repeated request)")
            raise error(f"{name}: called out of order")

    def _sign(self, msg: M) -> M:
        if not self._config.active:
            return msg
        assert self._signing_key is not None
        return dataclasses.replace(msg, signature=sign(self._signing_key, msg.signed_transcript()))  # type: ignore[call-arg]

    def _run(self, stage: int, name: str, fn: object, *args: object) -> object:
        self._enter(stage, name)
        try:
            out = fn(*args)  # type: ignore[operator]
        except (FedCryptoError, ValueError, TypeError):
            self._stage = _FAILED
            raise
        return out

    def _holders(self, among: tuple[int, ...] | frozenset[int]) -> tuple[int, ...]:
        return self._config.holders(self._id, among)

    # -- round 0 ----------------------------------------------------------------
    def advertise_keys(self) -> AdvertiseKeys:
        """Round 0 (AdvertiseKeys): send fresh X25519 public keys ``c_u^PK`` and ``s_u^PK``."""
        self._enter(_ADVERTISE, "advertise_keys", message=False)
        raw = (Encoding.Raw, PublicFormat.Raw)
        msg = AdvertiseKeys(
            session_id=self._config.session_id,
            sender=self._id,
            enc_public=self._enc_key.public_key().public_bytes(*raw),
            mask_public=self._mask_key.public_key().public_bytes(*raw),
        )
        self._stage = _SHARE
        return self._sign(msg)

    # -- round 1 ----------------------------------------------------------------
    def share_keys(self, key_list: KeyList | bytes) -> ShareKeys:
        """Round 1 (ShareKeys): check U1's keys, Shamir-share ``s_u^SK`` and ``b_u`` to the holders.

        The message also carries the commitment ``SHA-256(label || sid || u || b_u)``
        (:func:`~fedcrypto.secagg._crypto.seed_commitment`), against which the server
        checks the seed it reconstructs: no holder can make it accept a wrong one.

        Each holder ``v`` gets
        ``AES-GCM(HKDF(X25519(c_u, c_v)), u || v || share(s_u^SK) || share(b_u))``.

        Entries this client cannot trust are left out of its view of U1 (they are
        not share holders and not masked with): an unregistered or repeated client id,
        an invalid X25519 key (wrong length, non-canonical encoding, small order), the
        same key twice, a key that is one of this client's own, or (active) a bad
        signature.  An honest server already drops such advertisements in round 0.

        Raises:
            RemoteProtocolError: the list omits or alters this client's own keys.
            LocalProtocolError: fewer than ``t`` clients (or share holders) remain.
        """
        msg = _coerce(key_list, KeyList, self._config.session_id)
        return self._run(_SHARE, "share_keys", self._share_keys, msg)  # type: ignore[return-value]

    def _accepted_peers(self, msg: KeyList) -> dict[int, AdvertiseKeys]:
        """The other clients of the key list whose advertisements this client accepts."""
        cfg = self._config
        raw = (Encoding.Raw, PublicFormat.Raw)
        my_enc = self._enc_key.public_key().public_bytes(*raw)
        my_mask = self._mask_key.public_key().public_bytes(*raw)
        mine = [e for e in msg.entries if e.sender == self._id]
        if len(mine) != 1 or (mine[0].enc_public, mine[0].mask_public) != (my_enc, my_mask):
            raise RemoteProtocolError("key list omits or alters this client's own keys")
        own = {my_enc, my_mask}
        count = Counter(e.sender for e in msg.entries)
        candidates: dict[int, AdvertiseKeys] = {}
        for e in msg.entries:
            if e.sender == self._id or count[e.sender] != 1 or not cfg.is_registered(e.sender):
                continue
            if (
                e.enc_public == e.mask_public
                or x25519_key_problem(e.enc_public) is not None
                or x25519_key_problem(e.mask_public) is not None
                or e.enc_public in own
                or e.mask_public in own
            ):
                continue
            if cfg.active:
                try:
                    verify(
                        cfg.verifying_keys[e.sender],
                        e.signature,
                        e.signed_transcript(),
                        who=e.sender,
                    )
                except InvalidSignatureError:
                    continue
            candidates[e.sender] = e
        uses = Counter(pk for e in candidates.values() for pk in (e.enc_public, e.mask_public))
        return {
            c: e
            for c, e in candidates.items()
            if uses[e.enc_public] == 1 and uses[e.mask_public] == 1
        }

    def _share_keys(self, msg: KeyList) -> ShareKeys:
        cfg = self._config
        peers = self._accepted_peers(msg)
        u1 = tuple(sorted([*peers, self._id]))
        if len(u1) < cfg.threshold:
            raise LocalProtocolError(
                f"only {len(u1)} clients advertised valid keys, threshold is {cfg.threshold}"
            )
        holders = self._holders(u1)
        if len(holders) < cfg.threshold:
            raise LocalProtocolError(
                f"only {len(holders)} share holders among the advertised clients, threshold is "
                f"{cfg.threshold}"
            )
        for v in holders:
            if v != self._id:
                e = peers[v]
                self._keys[v] = (load_public_key(e.enc_public), load_public_key(e.mask_public))
        self._u1 = u1
        self._b_seed = os.urandom(_SEED_BYTES)
        sk_raw = self._mask_key.private_bytes_raw()
        key_shares, mask_shares = shamir_split_many(
            [sk_raw, self._b_seed], threshold=cfg.threshold, shares=len(holders)
        )
        cts: list[tuple[int, bytes]] = []
        for pos, v in enumerate(holders):
            if v == self._id:
                self._own_shares = (key_shares[pos], mask_shares[pos])
                continue
            secret = agree(self._enc_key, self._keys[v][0])
            key = share_encryption_key(secret, session_id=cfg.session_id, u=self._id, v=v)
            self._gcm_keys[v] = key
            pt = share_plaintext(self._id, v, key_shares[pos], mask_shares[pos])
            cts.append(
                (v, encrypt_share(key, pt, session_id=cfg.session_id, sender=self._id, receiver=v))
            )
        self._stage = _MASK
        commitment = seed_commitment(self._b_seed, session_id=cfg.session_id, client=self._id)
        return self._sign(
            ShareKeys(
                session_id=cfg.session_id,
                sender=self._id,
                seed_commitment=commitment,
                ciphertexts=tuple(cts),
            )
        )

    # -- round 2 ----------------------------------------------------------------
    def masked_input(self, delivery: ShareDelivery | bytes, values: npt.ArrayLike) -> MaskedInput:
        """Round 2 (MaskedInputCollection): decrypt the shares received and send the masked input.

        ``y_u = x_u + PRG(b_u) + sum over v in U2 (neighbours) of sign(u, v) * PRG(s_{u,v})``
        mod ``2^k``, with ``sign = +1`` if ``u < v`` else ``-1``, so the pairwise masks of
        two surviving clients cancel in the sum.

        Args:
            delivery: the ciphertexts addressed to this client (their senders form U2).
            values: integer vector of ``vector_length`` entries in ``[0, 2^k)``.

        A ciphertext that does not authenticate, or decrypts to anything but two
        valid shares addressed from its sender to this client, is skipped: the sender
        stays in U2 (this client still masks with it, as every other client does) but
        this client holds no share of its secrets.

        Raises:
            RemoteProtocolError: the delivery is addressed to another client, repeats a
                sender, or holds a ciphertext from a client that is not a share holder.
            LocalProtocolError: fewer than ``t`` holders left.
            InvalidArgumentError, InvalidTypeError: bad input vector.
        """
        msg = _coerce(delivery, ShareDelivery, self._config.session_id)
        x = self._check_input(values)
        return self._run(_MASK, "masked_input", self._masked_input, msg, x)  # type: ignore[return-value]

    def _check_input(self, values: npt.ArrayLike) -> npt.NDArray[np.uint64]:
        cfg = self._config
        arr = np.asarray(values)
        if arr.dtype.kind not in "ui":
            raise InvalidTypeError("input vector must have an integer dtype")
        if arr.shape != (cfg.vector_length,):
            raise InvalidArgumentError(f"input vector must have shape ({cfg.vector_length},)")
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) >> cfg.modulus_bits):
            raise InvalidArgumentError(f"input entries must lie in [0, 2^{cfg.modulus_bits})")
        return arr.astype(np.uint64, copy=False)

    def _masked_input(self, msg: ShareDelivery, x: npt.NDArray[np.uint64]) -> MaskedInput:
        cfg = self._config
        if msg.receiver != self._id:
            raise RemoteProtocolError("share delivery is addressed to another client")
        holders = set(self._holders(self._u1))
        senders = [s for s, _ in msg.ciphertexts]
        if len(set(senders)) != len(senders):
            raise RemoteProtocolError("share delivery repeats a sender")
        if any(sender == self._id or sender not in holders for sender in senders):
            raise RemoteProtocolError(
                "share delivery holds a ciphertext from a client that is not a neighbour in U1"
            )
        for sender, ct in msg.ciphertexts:
            try:
                pt = decrypt_share(
                    self._gcm_keys[sender],
                    ct,
                    session_id=cfg.session_id,
                    sender=sender,
                    receiver=self._id,
                )
                self._received[sender] = self._parse_plaintext(sender, pt)
            except RemoteProtocolError:
                continue  # that peer's shares are unusable here; the peer stays in U2
        u2 = frozenset(senders) | {self._id}
        if len(u2) < cfg.threshold:
            raise LocalProtocolError(
                f"only {len(u2)} share holders remain, threshold is {cfg.threshold}"
            )
        self._u2 = u2
        peers = {v: self._keys[v][1] for v in senders}
        masked = mask_input(
            x,
            client_id=self._id,
            mask_key=self._mask_key,
            peers=peers,
            seed=self._b_seed,
            session_id=cfg.session_id,
            modulus_bits=cfg.modulus_bits,
        )
        self._stage = _CONSISTENCY if cfg.active else _UNMASK
        return self._sign(
            MaskedInput(
                session_id=cfg.session_id,
                sender=self._id,
                modulus_bits=cfg.modulus_bits,
                vector=masked,
            )
        )

    def _u1_holders(self, owner: int) -> tuple[tuple[int, ...], int]:
        """``owner``'s holders in U1 and this client's share index among them."""
        key = None if self._config.degree is None else owner
        if key not in self._holder_cache:
            holders = self._config.holders(owner, self._u1)
            self._holder_cache[key] = (holders, holders.index(self._id) + 1)
        return self._holder_cache[key]

    def _parse_plaintext(self, sender: int, pt: bytes) -> tuple[Share, Share]:
        cfg = self._config
        if len(pt) != _PLAINTEXT_BYTES:
            raise RemoteProtocolError(f"malformed share plaintext from client {sender}")
        u, v = int.from_bytes(pt[:4], "big"), int.from_bytes(pt[4:8], "big")
        if u != sender or v != self._id:
            raise RemoteProtocolError(
                f"share plaintext from client {sender} names the wrong parties"
            )
        sender_holders, my_index = self._u1_holders(sender)
        params = {
            "index": my_index,
            "threshold": cfg.threshold,
            "share_count": len(sender_holders),
            "who": sender,
        }
        mid = 8 + SHARE_WIRE_BYTES
        return share_from_wire(pt[8:mid], **params), share_from_wire(pt[mid:], **params)

    # -- round 3 ----------------------------------------------------------------
    def consistency_check(self, request: ConsistencyRequest | bytes) -> ConsistencyCheck:
        """Round 3 (ConsistencyCheck, active variant): sign the survivor list U3.

        Raises:
            RemoteProtocolError: U3 not sorted, not within U2, or without this client.
            LocalProtocolError: U3 smaller than ``t``.
        """
        msg = _coerce(request, ConsistencyRequest, self._config.session_id)
        return self._run(_CONSISTENCY, "consistency_check", self._consistency, msg)  # type: ignore[return-value]

    def _check_survivors(self, survivors: tuple[int, ...]) -> None:
        cfg = self._config
        if list(survivors) != sorted(set(survivors)):
            raise RemoteProtocolError("survivor list must be sorted and without repeats")
        if self._id not in survivors:
            raise RemoteProtocolError("survivor list omits this client")
        if not all(cfg.is_registered(s) for s in survivors):
            raise RemoteProtocolError("survivor list names an unregistered client")
        mine = self._holders(survivors)
        if any(s not in self._u2 for s in mine):
            raise RemoteProtocolError(
                "survivor list names a neighbour that did not share keys (not in U2)"
            )
        if len(survivors) < cfg.threshold or len(mine) < cfg.threshold:
            raise LocalProtocolError(
                f"fewer than {cfg.threshold} survivors: too few to continue safely"
            )

    def _consistency(self, msg: ConsistencyRequest) -> ConsistencyCheck:
        self._check_survivors(msg.survivors)
        self._survivors = msg.survivors
        assert self._signing_key is not None
        sig = sign(
            self._signing_key,
            consistency_transcript(self._config.session_id, self._id, msg.survivors),
        )
        self._stage = _UNMASK
        return ConsistencyCheck(session_id=self._config.session_id, sender=self._id, signature=sig)

    # -- round 4 ----------------------------------------------------------------
    def unmask(self, request: UnmaskRequest | bytes) -> UnmaskResponse:
        """Round 4 (Unmasking): reveal ``b`` shares of survivors, ``s^SK`` of dropped ones.

        Refuses (``RemoteProtocolError``) any request that would let the server learn
        both secrets of one client: a client named both survivor and dropped, a dropped
        client that is in U3 as signed in the consistency round, a second unmasking
        request.

        Raises:
            RemoteProtocolError: a forbidden, repeated or inconsistent request.
            InvalidSignatureError: a consistency signature fails (active).
            LocalProtocolError: fewer than ``t`` survivors (or signatures).
        """
        msg = _coerce(request, UnmaskRequest, self._config.session_id)
        return self._run(_UNMASK, "unmask", self._unmask, msg)  # type: ignore[return-value]

    def _unmask(self, msg: UnmaskRequest) -> UnmaskResponse:
        cfg = self._config
        survivors, dropped = msg.survivors, msg.dropped
        if set(survivors) & set(dropped):
            raise RemoteProtocolError(
                "unmasking request asks for both the self-mask share and the key share of the "
                "same client: refused"
            )
        if list(dropped) != sorted(set(dropped)):
            raise RemoteProtocolError("dropped list must be sorted and without repeats")
        self._check_survivors(survivors)
        if not all(cfg.is_registered(d) for d in dropped):
            raise RemoteProtocolError("dropped list names an unregistered client")
        if cfg.active:
            if survivors != self._survivors:
                raise RemoteProtocolError(
                    "survivor list differs from the one signed in the consistency round"
                )
            signers = [s for s, _ in msg.signatures]
            if len(set(signers)) != len(signers) or any(s not in survivors for s in signers):
                raise RemoteProtocolError(
                    "consistency signatures from clients outside U3 or repeated"
                )
            if len(signers) < cfg.threshold:
                raise LocalProtocolError(
                    f"only {len(signers)} consistency signatures, threshold is {cfg.threshold}"
                )
            for signer, sig in msg.signatures:
                verify(
                    cfg.verifying_keys[signer],
                    sig,
                    consistency_transcript(cfg.session_id, signer, survivors),
                    who=signer,
                )
        held = dict(self._received)
        if self._own_shares is not None:
            held[self._id] = self._own_shares
        mask_out = tuple((o, share_to_wire(held[o][1])) for o in survivors if o in held)
        key_out = tuple(
            (o, share_to_wire(held[o][0])) for o in dropped if o in held and o != self._id
        )
        self._stage = _DONE
        return self._sign(
            UnmaskResponse(
                session_id=cfg.session_id, sender=self._id, mask_shares=mask_out, key_shares=key_out
            )
        )

    # -- state across messages (hosts that rebuild the client per message) ------------
    def private_state_bytes(self, *, key: bytes) -> bytes:
        """This client's whole private state, sealed, for a host that rebuilds clients.

        Hosts like Flower create a fresh client object for every message; this is the
        explicit way to carry a client from one message to the next (pickling stays
        refused).  The output is **secret-bearing**: it holds the client's X25519 private
        keys, its self-mask seed, the shares it holds for its peers and the pairwise
        share-encryption keys.  It is sealed with AES-256-GCM under ``key`` (nonce from
        the OS CSPRNG), bound to this session and client id, in the versioned envelope
        ``SECAGG_CLIENT_STATE`` (layout in ``fedcrypto.secagg._state`` and
        docs/secagg.md).  Keep ``key`` somewhere other than the bytes: whoever holds both
        holds the secrets.  The seal detects any change; it cannot detect a *rollback*
        to an older state sealed under the same key.

        The session config and the long-term signing key are not included: pass them to
        :meth:`from_private_state`.

        Args:
            key: 32 secret bytes (e.g. from ``os.urandom(32)``), the same for every state
                of this client.

        Returns:
            The sealed envelope.

        Raises:
            InvalidArgumentError, InvalidTypeError: a key that is not 32 bytes.
        """
        state = ClientState(
            client_id=self._id,
            stage=self._stage,
            enc_key=self._enc_key.private_bytes_raw(),
            mask_key=self._mask_key.private_bytes_raw(),
            b_seed=self._b_seed,
            keys={
                v: (
                    enc.public_bytes(Encoding.Raw, PublicFormat.Raw),
                    mask.public_bytes(Encoding.Raw, PublicFormat.Raw),
                )
                for v, (enc, mask) in self._keys.items()
            },
            u1=self._u1,
            u2=self._u2,
            own_shares=self._own_shares,
            received=dict(self._received),
            gcm_keys=dict(self._gcm_keys),
            survivors=self._survivors,
        )
        return seal_state(state, self._config, key)

    @classmethod
    def from_private_state(
        cls,
        config: SecAggConfig,
        data: bytes,
        *,
        key: bytes,
        signing_key: Ed25519PrivateKey | None = None,
    ) -> SecAggClient:
        """Rebuild a client saved by :meth:`private_state_bytes`.

        Args:
            config: the session parameters (the state only loads into its own session).
            data: the sealed state.
            key: the 32-byte key it was sealed with.
            signing_key: the client's long-term Ed25519 key (active mode), as for the
                constructor.

        Returns:
            A client at exactly the round where the saved one stopped (a client that had
            failed stays failed).

        Raises:
            SerializationError: malformed, tampered or foreign bytes, or a wrong key.
            InvalidArgumentError, InvalidTypeError: bad config, key or signing key.
        """
        if not isinstance(config, SecAggConfig):
            raise InvalidTypeError("config must be a SecAggConfig")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidTypeError("data must be bytes")
        st = open_state(bytes(data), config, key)
        client = cls(config, st.client_id, signing_key=signing_key)
        try:
            client._enc_key = X25519PrivateKey.from_private_bytes(st.enc_key)
            client._mask_key = X25519PrivateKey.from_private_bytes(st.mask_key)
            client._keys = {
                v: (load_public_key(enc), load_public_key(mask))
                for v, (enc, mask) in st.keys.items()
            }
        except (FedCryptoError, ValueError):
            raise SerializationError("client state holds an invalid X25519 key") from None
        client._stage = st.stage
        client._b_seed = st.b_seed
        client._u1 = st.u1
        client._u2 = st.u2
        client._own_shares = st.own_shares
        client._received = dict(st.received)
        client._gcm_keys = dict(st.gcm_keys)
        client._survivors = st.survivors
        return client
