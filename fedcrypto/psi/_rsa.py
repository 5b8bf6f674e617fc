"""RSA blind-signature PSI (De Cristofaro–Tsudik, FC 2010, the "blind RSA" protocol).

The *signer* holds an RSA key generated for the session (>= 2048 bits); the *client* learns
the intersection.  With ``H`` the full-domain hash and ``T`` the 128-bit tag function:

1. signer -> client: :class:`RsaPublicKey` ``(n, e)`` (validated by the client).
2. client -> signer: :class:`BlindedBatch` ``H(x) * r^e mod n`` for its shuffled items, fresh
   uniform ``r`` in ``Z*_n`` per element (window of two unanswered batches).
3. signer -> client: :class:`SignedBatch` ``(H(x) r^e)^d`` (CRT, constant time) and, streamed
   alongside, :class:`SignerTags` ``T(H(y)^d)`` for its own items in a random order.
4. client: unblinds ``s = H(x)^d``, verifies ``s^e == H(x)`` for every element
   (:class:`InvalidSignatureError` otherwise), matches ``T(s)`` against the signer's tags.
5. reveal ``both``: client -> signer :class:`MatchPositions`: which positions of the signer's
   tag stream matched; the signer maps them back through its secret permutation.

Who signs: the connector for reveal ``listener`` and ``both``, the listener for reveal
``connector`` — the party that learns is always the client (a signer that learned from the
client's tags could test any guess offline, since it holds ``d``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..exceptions import InvalidArgumentError, InvalidGroupElementError, RemoteProtocolError
from ..hazmat.rsa_blind import (
    RsaBlindKey,
    RsaPublicNumbers,
    blind,
    check_public_key,
    full_domain_hash,
    unblind_and_verify,
)
from ._ecdh import tag_many
from ._join import TagJoin
from ._messages import (
    BlindedBatch,
    MatchPositions,
    PsiMessage,
    RsaPublicKey,
    SignedBatch,
    SignerTags,
)
from ._parallel import map_chunks
from ._party import PsiParty, batch_count, secure_permutation
from ._settings import TAG_BYTES, PsiSettings, session_tag

__all__ = ["RsaParty", "signer_role"]

_WINDOW = 2
#: Smallest chunk of RSA work worth one task on the executor.
_MIN_ITEMS = 128
#: Session keys are three-prime RSA (about 2.2x faster CRT signing; see RsaBlindKey).
SESSION_KEY_PRIMES = 3


def _is_prime_u32(e: int) -> bool:
    """Deterministic Miller-Rabin for ``e < 2^32`` (bases 2, 7, 61 suffice below 4.7e9)."""
    if e < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 61):
        if e % p == 0:
            return e == p
    d, r = e - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for a in (2, 7, 61):
        x = pow(a, d, e)
        if x in (1, e - 1):
            continue
        for _ in range(r - 1):
            x = x * x % e
            if x == e - 1:
                break
        else:
            return False
    return True


def signer_role(reveal: str) -> str:
    """The role that holds the RSA key for a reveal mode."""
    return "listener" if reveal == "connector" else "connector"


def _key(primes: tuple[int, ...], e: int) -> RsaBlindKey:
    return RsaBlindKey(*primes, e=e, unsafe_allow_small_keys=True)


def _sign_chunk(values: Sequence[int], primes: tuple[int, ...], e: int) -> list[int]:
    return _key(primes, e).sign_many(values, threads=1)


def _own_tags_chunk(
    items: Sequence[bytes], primes: tuple[int, ...], e: int, dst: bytes, tag_key: bytes
) -> bytes:
    key = _key(primes, e)
    n = key.public().n
    nbytes = (n.bit_length() + 7) // 8
    sigs = key.sign_many(full_domain_hash(items, n, dst), threads=1)
    return tag_many([s.to_bytes(nbytes, "big") for s in sigs], tag_key)


class RsaParty(PsiParty):
    """RSA blind-signature PSI party: signer or client depending on role and reveal."""

    def __init__(
        self, settings: PsiSettings, *, rsa_key: RsaBlindKey | None = None, **kwargs: Any
    ) -> None:
        super().__init__(settings, **kwargs)
        self._bits = int(settings.resolved_group()[3:])
        self._nbytes = self._bits // 8
        self._bs = settings.batch_size
        self.is_signer = self.role == signer_role(settings.reveal)
        self._dst = session_tag(settings, self._session_id, "full-domain-hash")
        self._tag_key = hashlib.sha256(session_tag(settings, self._session_id, "tag")).digest()
        self._perm = secure_permutation(self.n)
        self._join: TagJoin | None = None
        if self.is_signer:
            if rsa_key is None:
                rsa_key = RsaBlindKey.generate(self._bits, primes=settings.rsa_primes)
            if not isinstance(rsa_key, RsaBlindKey) or rsa_key.public().bits != self._bits:
                raise InvalidArgumentError(f"rsa_key must be an RsaBlindKey of {self._bits} bits")
            self._key = rsa_key
            self._learn = settings.reveal == "both"
            self._client_batches = batch_count(self.peer_size, self._bs)
            self._tag_batches = batch_count(self.n, self._bs)
            self._blinded_received = 0
            self._tags_sent = 0
            self._positions_received = 0
            self._positions_total: int | None = None
            self._matched: list[np.ndarray] = []
            self._last_position = -1
        else:
            self._pub: RsaPublicNumbers | None = None
            self._signer_learns = settings.reveal == "both"
            self._my_batches = batch_count(self.n, self._bs)
            self._signer_batches = batch_count(self.peer_size, self._bs)
            self._next_send = 0
            self._signed = 0
            self._tags_received = 0
            self._pending: dict[int, tuple[list[int], list[int]]] = {}
            self._join = self._join_provider.new_join(
                self.peer_size, self.n, want_ref_positions=self._signer_learns
            )

    # ================================ signer ===========================================
    def _signer_tags(self) -> list[PsiMessage]:
        j = self._tags_sent
        if j >= self._tag_batches:
            return []
        self._tags_sent += 1
        lo = j * self._bs
        hi = min(self.n, lo + self._bs)
        chunk = [self._items[int(k)] for k in self._perm[lo:hi]]
        primes, e = self._key.private_numbers()
        data = b"".join(
            map_chunks(
                self._executor,
                _own_tags_chunk,
                chunk,
                primes,
                e,
                self._dst,
                self._tag_key,
                min_items=_MIN_ITEMS,
            )
        )
        self._report("hashing", hi, self.n)
        self._report("masking own", hi, self.n)
        return [
            SignerTags(
                param=self._param, index=j, total=self._tag_batches, data=data, elem_size=TAG_BYTES
            )
        ]

    def _on_blinded(self, msg: BlindedBatch) -> list[PsiMessage]:
        i = self._blinded_received
        if i >= self._client_batches or msg.index != i or msg.total != self._client_batches:
            raise RemoteProtocolError(
                f"blinded batch {msg.index}/{msg.total} out of order "
                f"(expected {i}/{self._client_batches})"
            )
        expected = max(0, min(self._bs, self.peer_size - i * self._bs))
        if msg.count != expected:
            raise RemoteProtocolError(
                f"blinded batch {i} holds {msg.count} values, expected {expected}"
            )
        n = self._key.public().n
        values = [int.from_bytes(v, "big") for v in msg.elements()]
        if any(not 0 < v < n for v in values):
            raise InvalidGroupElementError("peer sent a blinded value outside (0, n)")
        primes, e = self._key.private_numbers()
        sigs = [
            s
            for part in map_chunks(
                self._executor, _sign_chunk, values, primes, e, min_items=_MIN_ITEMS
            )
            for s in part
        ]
        self._blinded_received += 1
        self._report("masking peer's", min(self.peer_size, (i + 1) * self._bs), self.peer_size)
        out: list[PsiMessage] = [
            SignedBatch(
                param=self._param,
                index=i,
                total=self._client_batches,
                data=b"".join(s.to_bytes(self._nbytes, "big") for s in sigs),
                elem_size=self._nbytes,
            )
        ]
        if self._blinded_received == self._client_batches:
            while self._tags_sent < self._tag_batches:
                out += self._signer_tags()
        else:
            out += self._signer_tags()
        return out

    def _on_positions(self, msg: MatchPositions) -> list[PsiMessage]:
        if not self._learn:
            raise RemoteProtocolError("match positions are only sent in reveal mode 'both'")
        if self._blinded_received < self._client_batches:
            raise RemoteProtocolError("match positions arrived before all blinded batches")
        j = self._positions_received
        if self._positions_total is None:
            self._positions_total = msg.total
        if msg.index != j or msg.total != self._positions_total:
            raise RemoteProtocolError(
                f"match positions batch {msg.index} out of order (expected {j})"
            )
        pos = msg.positions()
        if pos.size and (pos.min() < 0 or pos.max() >= self.n):
            raise RemoteProtocolError("peer sent a match position outside the signer's tag stream")
        if pos.size and (np.any(np.diff(pos) <= 0) or pos[0] <= self._last_position):
            raise RemoteProtocolError("match positions must be strictly increasing")
        if pos.size:
            self._last_position = int(pos[-1])
        self._matched.append(self._perm[pos])
        self._positions_received += 1
        return []

    # ================================ client ===========================================
    def _next_blinded(self) -> list[PsiMessage]:
        i = self._next_send
        if i >= self._my_batches or i - self._signed >= _WINDOW:
            return []
        assert self._pub is not None
        self._next_send += 1
        lo = i * self._bs
        hi = min(self.n, lo + self._bs)
        chunk = [self._items[int(k)] for k in self._perm[lo:hi]]
        hashes = full_domain_hash(chunk, self._pub.n, self._dst)
        self._report("hashing", hi, self.n)
        blinded, rs = blind(hashes, self._pub)
        self._pending[i] = (hashes, rs)
        return [
            BlindedBatch(
                param=self._param,
                index=i,
                total=self._my_batches,
                data=b"".join(b.to_bytes(self._nbytes, "big") for b in blinded),
                elem_size=self._nbytes,
            )
        ]

    def _on_public_key(self, msg: RsaPublicKey) -> list[PsiMessage]:
        if self._pub is not None:
            raise RemoteProtocolError("peer sent a second RSA public key")
        try:
            pub = check_public_key(msg.n, msg.e, self._bits)
        except InvalidArgumentError as exc:
            raise RemoteProtocolError(f"peer's RSA public key is unacceptable: {exc}") from None
        if not _is_prime_u32(pub.e):
            # An e sharing a factor with phi(n) would make r^e non-uniform and the blinding
            # leak bits of H(x); a prime e can only do so by dividing phi(n), which an honest
            # key (gcd(e, p_i - 1) = 1) never does.
            raise RemoteProtocolError("peer's RSA public key is unacceptable: e is not prime")
        self._pub = pub
        out: list[PsiMessage] = []
        for _ in range(_WINDOW):
            out += self._next_blinded()
        return out

    def _on_signed(self, msg: SignedBatch) -> list[PsiMessage]:
        i = self._signed
        if self._pub is None or i >= self._next_send or msg.index != i:
            raise RemoteProtocolError(f"signed batch {msg.index} out of order (expected {i})")
        hashes, rs = self._pending.pop(i)
        if msg.count != len(hashes):
            raise RemoteProtocolError(
                f"signed batch {i} holds {msg.count} values, expected {len(hashes)}"
            )
        sigs = unblind_and_verify(
            [int.from_bytes(s, "big") for s in msg.elements()], rs, hashes, self._pub
        )
        tags = tag_many([s.to_bytes(self._nbytes, "big") for s in sigs], self._tag_key)
        assert self._join is not None
        lo = i * self._bs
        self._join.add_probe(tags, self._perm[lo : lo + len(sigs)])
        self._signed += 1
        self._report("masking own", min(self.n, self._signed * self._bs), self.n)
        return self._next_blinded()

    def _on_signer_tags(self, msg: SignerTags) -> list[PsiMessage]:
        j = self._tags_received
        if j >= self._signer_batches or msg.index != j or msg.total != self._signer_batches:
            raise RemoteProtocolError(f"signer tag batch {msg.index} out of order (expected {j})")
        expected = max(0, min(self._bs, self.peer_size - j * self._bs))
        if msg.count != expected:
            raise RemoteProtocolError(
                f"signer tag batch {j} holds {msg.count} tags, expected {expected}"
            )
        assert self._join is not None
        self._join.add_ref(
            msg.data, np.arange(j * self._bs, j * self._bs + expected, dtype=np.int64)
        )
        self._tags_received += 1
        self._report(
            "masking peer's", min(self.peer_size, self._tags_received * self._bs), self.peer_size
        )
        return []

    # ================================ common ===========================================
    def _start(self) -> list[PsiMessage]:
        if self.is_signer:
            pub = self._key.public()
            return [RsaPublicKey(param=self._param, n=pub.n, e=pub.e)]
        return []

    def _handle(self, msg: PsiMessage) -> list[PsiMessage]:
        kind = type(msg).__name__
        if self.is_signer:
            if isinstance(msg, BlindedBatch):
                out = self._on_blinded(msg)
            elif isinstance(msg, MatchPositions):
                out = self._on_positions(msg)
            else:
                raise RemoteProtocolError(f"the RSA signer does not expect {kind}")
            self._signer_maybe_finish()
            return out
        if isinstance(msg, RsaPublicKey):
            out = self._on_public_key(msg)
        elif self._pub is None:
            raise RemoteProtocolError(f"{kind} arrived before the RSA public key")
        elif isinstance(msg, SignedBatch):
            out = self._on_signed(msg)
        elif isinstance(msg, SignerTags):
            out = self._on_signer_tags(msg)
        else:
            raise RemoteProtocolError(f"the RSA client does not expect {kind}")
        return out + self._client_maybe_finish()

    def _signer_maybe_finish(self) -> None:
        if self._blinded_received < self._client_batches or self._tags_sent < self._tag_batches:
            return
        if not self._learn:
            self._finish(None, None)
        elif self._positions_total is not None and (
            self._positions_received == self._positions_total
        ):
            idx = np.sort(np.concatenate(self._matched)) if self._matched else np.empty(0, np.int64)
            self._finish(idx.astype(np.int64), int(idx.size))

    def _client_maybe_finish(self) -> list[PsiMessage]:
        if self._signed < self._my_batches or self._tags_received < self._signer_batches:
            return []
        assert self._join is not None
        self._report("matching", 0, 1)
        res = self._join.finish()
        self._report("matching", 1, 1)
        self._finish(res.probe, int(res.probe.size))
        if not self._signer_learns:
            return []
        assert res.ref is not None
        pos = res.ref.astype(">u8").tobytes()
        step = self._bs * 8
        total = batch_count(res.ref.size, self._bs)
        return [
            MatchPositions(
                param=self._param,
                index=j,
                total=total,
                data=pos[j * step : (j + 1) * step],
                elem_size=8,
            )
            for j in range(total)
        ]

    def _close(self) -> None:
        if self._join is not None:
            self._join.close()
