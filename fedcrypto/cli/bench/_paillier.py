"""The Paillier scenarios: fedcrypto against python-paillier (phe) on the same key.

phe is slow, so it runs on a small sample per operation and is compared per item; the dot
product and the packed pipeline extrapolate phe's per-term / per-value time.  The goals are
those of issue 12 for the constant-time defaults (:data:`GOALS`; ratio = fedcrypto's rate /
phe's rate); rows without a goal are informative.

Building the list is cheap (names and parameters only, so pytest can collect it); the key,
the inputs and the peer's key are made on first use, in each scenario's ``setup``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ... import paillier
from ..._random import VectorRNG
from ...exceptions import FedCryptoError
from ._scenarios import Scenario

__all__ = ["paillier_scenarios", "phe_keys"]

GROUP = "paillier"
#: Goals by key size: (operation, threads) -> minimum ratio fedcrypto / phe, where threads
#: is 1 or ``"all"`` (the all-cores row; 2 threads on the project machine).  At 2048 bits
#: these are issue 12's goals for the constant-time defaults (add and dot keep issue 3's).
GOALS: dict[int, dict[tuple[str, int | str], float]] = {
    2048: {
        ("decrypt", 1): 1.3,
        ("decrypt", "all"): 2.5,
        ("encrypt", 1): 10.0,
        ("encrypt", "all"): 20.0,
        ("encrypt from a warm pool", 1): 1000.0,
        ("encrypt from a warm pool", "all"): 1000.0,
        ("packed pipeline (public key)", "all"): 1500.0,
        ("mul 32-bit scalar", "all"): 2.0,
        ("add", "all"): 1.2,
        ("dot 1000 x 32-bit", "all"): 4.0,
    },
    3072: {("decrypt", 1): 1.2},
}
#: Values phe's per-value pipeline is timed on.
PHE_PIPELINE_SAMPLE = 2


def goal_for(key_size: int, op: str, threads: int, all_threads: int) -> float | None:
    """The goal of one row, or None (the one-thread goal wins when all cores = 1)."""
    goals = GOALS.get(key_size, {})
    if threads == 1 and (op, 1) in goals:
        return goals[(op, 1)]
    return goals.get((op, "all")) if threads == all_threads else None


def phe_keys(phe: Any, sk: paillier.PaillierPrivateKey) -> tuple[Any, Any]:
    """python-paillier's public and private key on the same primes as ``sk``."""
    ppk = phe.PaillierPublicKey(sk.public_key().n)
    return ppk, phe.PaillierPrivateKey(ppk, *sk.private_numbers())


class _Inputs:
    """The key and every input of the scenarios of one key size, made once, on first use."""

    def __init__(
        self,
        key_size: int,
        key: paillier.PaillierPrivateKey | None,
        phe: Any,
        *,
        threads: int,
        quick: bool,
        pipeline_values: int,
        parties: int,
        pool_values: int,
    ) -> None:
        self.key_size, self._key, self.phe, self.threads = key_size, key, phe, threads
        self.values, self.parties, self.pool_values = pipeline_values, parties, pool_values
        self.n_enc, self.n_dec, self.n_add, self.n_mul = (
            (32, 16, 2000, 64) if quick else (64, 32, 4000, 128)
        )
        self.k_phe, self.k_dot = (3, 30) if quick else (6, 60)

    @functools.cached_property
    def sk(self) -> paillier.PaillierPrivateKey:
        sk = self._key or paillier.generate_private_key(self.key_size)
        for vt in (False, True):  # the fixed-base tables are one-offs per key
            sk.warm_up(variable_time=vt)
        return sk

    @functools.cached_property
    def pk(self) -> paillier.PaillierPublicKey:
        return self.sk.public_key()

    @functools.cached_property
    def phe_pair(self) -> tuple[Any, Any]:
        return phe_keys(self.phe, self.sk) if self.phe is not None else (None, None)

    @functools.cached_property
    def ints(self) -> np.ndarray:
        return VectorRNG().below(1 << 32, 1000).astype(np.int64)

    @functools.cached_property
    def w32(self) -> np.ndarray:
        return VectorRNG().below(1 << 32, 1000).astype(np.int64)

    @functools.cached_property
    def ev1k(self) -> paillier.EncryptedVector:
        return self.pk.encrypt(self.ints, threads=self.threads)

    @functools.cached_property
    def big(self) -> paillier.EncryptedVector:
        return paillier.concatenate([self.ev1k] * max(1, self.n_add // 1000))

    @functools.cached_property
    def phe_cts(self) -> list[Any]:
        ppk = self.phe_pair[0]
        return [] if ppk is None else [ppk.encrypt(int(v)) for v in self.ints[: self.k_phe]]

    @functools.cached_property
    def grads(self) -> list[np.ndarray]:
        rng = VectorRNG()
        return [
            ((rng.uniform(self.values) - 0.5) * 0.02).astype(np.float32)
            for _ in range(self.parties)
        ]

    @functools.cached_property
    def scheme(self) -> paillier.PackingScheme:
        return paillier.PackingScheme(bits=16, parties=self.parties, alpha=0.01)


def _encrypt(inp: _Inputs, threads: int, variable_time: bool) -> object:
    return inp.pk.encrypt(
        inp.ints[: inp.n_enc], threads=threads, unsafe_variable_time=variable_time
    )


def _decrypt(inp: _Inputs, threads: int, variable_time: bool) -> object:
    return inp.sk.decrypt(
        inp.ev1k[: inp.n_dec], threads=threads, unsafe_variable_time=variable_time
    )


def _mul(inp: _Inputs, threads: int) -> object:
    return inp.ev1k[: inp.n_mul].multiply(inp.w32[: inp.n_mul], threads=threads)


def _label(bits: int, threads: int) -> str:
    return f"{bits}-bit, {threads} thread{'s' if threads != 1 else ''}"


def paillier_scenarios(
    key_size: int,
    *,
    threads: int,
    phe: Any = None,
    key: paillier.PaillierPrivateKey | None = None,
    quick: bool = False,
    pipeline_values: int = 10000,
    parties: int = 8,
    pool_values: int = 0,
) -> list[Scenario]:
    """Every Paillier scenario for one key size: encrypt (constant and variable time, and
    from a warm randomizer pool when ``pool_values``), decrypt, add, multiply by 32-bit
    scalars, a 1,000-term dot product and the packed pipeline, on one thread and on
    ``threads``.

    Args:
        key_size: bits of ``n``; a key is generated on first use unless ``key`` is given.
        threads: the "all cores" thread count.
        phe: the python-paillier module (the peer), or None to time fedcrypto alone.
        key: a private key of ``key_size`` bits to use instead of a new one.
        quick: smaller counts.
        pipeline_values: values per party in the packed pipeline.
        parties: parties in the packed pipeline.
        pool_values: values encrypted per call from a warm :class:`RandomizerPool` (filled
            by the background refill before the timing); 0 leaves the row out.
    """
    inp = _Inputs(
        key_size,
        key,
        phe,
        threads=threads,
        quick=quick,
        pipeline_values=pipeline_values,
        parties=parties,
        pool_values=pool_values,
    )
    out: list[Scenario] = []

    def goal(op: str, th: int) -> float | None:
        return goal_for(key_size, op, th, threads)

    thread_set = sorted({1, threads})
    peer_or_none: Callable[[Callable[[], object]], Callable[[], object] | None] = (
        (lambda fn: fn) if phe is not None else (lambda fn: None)
    )

    def prepare(*names: str) -> Callable[[], None]:
        def setup() -> None:
            for name in ("sk", "phe_pair", "phe_cts", *names):
                getattr(inp, name)

        return setup

    # encryption (DJN, public key), constant-time table and the unsafe variable-time one
    for vt, op in ((False, "encrypt"), (True, "encrypt unsafe_variable_time")):
        for th in thread_set:
            out.append(
                Scenario(
                    op=op,
                    group=GROUP,
                    params=_label(key_size, th),
                    threads=th,
                    unit="ops/s",
                    ours=functools.partial(_encrypt, inp, th, vt),
                    items=inp.n_enc,
                    peer=peer_or_none(
                        lambda: [inp.phe_pair[0].encrypt(int(v)) for v in inp.ints[: inp.k_phe]]
                    ),
                    peer_name="phe",
                    peer_items=inp.k_phe,
                    goal=None if vt else goal(op, th),
                    setup=prepare("ints"),
                )
            )

    # decryption (CRT): constant time on one and all threads, variable time on one
    def check_decrypt() -> None:
        if not np.array_equal(inp.sk.decrypt(inp.ev1k[: inp.n_dec]), inp.ints[: inp.n_dec]):
            raise FedCryptoError("decryption benchmark: wrong plaintexts")  # pragma: no cover

    if pool_values > 0:
        out += [_warm_pool(inp, th, peer_or_none, prepare, goal(_WARM, th)) for th in thread_set]

    decrypts = [(t, False, goal("decrypt", t)) for t in thread_set]
    for th, vt, dec_goal in (*decrypts, (1, True, None)):
        out.append(
            Scenario(
                op="decrypt unsafe_variable_time" if vt else "decrypt",
                group=GROUP,
                params=_label(key_size, th),
                threads=th,
                unit="ops/s",
                ours=functools.partial(_decrypt, inp, th, vt),
                items=inp.n_dec,
                peer=peer_or_none(lambda: [inp.phe_pair[1].decrypt(c) for c in inp.phe_cts]),
                peer_name="phe",
                peer_items=inp.k_phe,
                goal=dec_goal,
                check=None if vt else check_decrypt,
                setup=prepare("ev1k"),
            )
        )

    # addition of ciphertexts; phe adds 200 pairs
    def phe_add() -> object:
        many = (inp.phe_cts * (200 // max(1, len(inp.phe_cts)) + 1))[:200]
        return [a + b for a, b in zip(many, many, strict=True)]

    out.append(
        Scenario(
            op="add",
            group=GROUP,
            params=_label(key_size, threads),
            threads=threads,
            unit="ops/s",
            ours=lambda: inp.big + inp.big,
            items=inp.n_add,
            peer=peer_or_none(phe_add),
            peer_name="phe",
            peer_items=200,
            goal=goal("add", threads),
            setup=prepare("big"),
        )
    )

    # multiplication by 32-bit plaintexts (elementwise)
    def check_mul() -> None:
        ev, w = inp.ev1k[: inp.n_mul], inp.w32[: inp.n_mul]
        got = inp.sk.decrypt(ev * w).astype(object)
        if not np.array_equal(got, inp.ints[: inp.n_mul].astype(object) * w.astype(object)):
            raise FedCryptoError("multiplication benchmark: wrong plaintexts")  # pragma: no cover

    for th in thread_set:
        out.append(
            Scenario(
                op="mul 32-bit scalar",
                group=GROUP,
                params=_label(key_size, th),
                threads=th,
                unit="ops/s",
                ours=functools.partial(_mul, inp, th),
                items=inp.n_mul,
                peer=peer_or_none(
                    lambda: [a * int(b) for a, b in zip(inp.phe_cts, inp.w32, strict=False)]
                ),
                peer_name="phe",
                peer_items=inp.k_phe,
                goal=goal("mul 32-bit scalar", th) if th == threads else None,
                check=check_mul,
                setup=prepare("ev1k", "w32"),
            )
        )

    # dot product of 1,000 ciphertexts with 32-bit weights; phe's loop timed on k_dot terms
    def phe_dot() -> object:
        k = inp.k_dot
        sample = (inp.phe_cts * (k // max(1, len(inp.phe_cts)) + 1))[:k]
        acc = sample[0] * int(inp.w32[0])
        for a, b in zip(sample[1:], inp.w32[1:k], strict=True):
            acc = acc + a * int(b)
        return acc

    def check_dot() -> None:
        want = int(inp.ints.astype(object) @ inp.w32.astype(object))
        if inp.sk.decrypt(inp.ev1k.dot(inp.w32))[0] != want:  # pragma: no cover
            raise FedCryptoError("dot product benchmark: wrong plaintext")

    out.append(
        Scenario(
            op="dot 1000 x 32-bit",
            group=GROUP,
            params=_label(key_size, threads),
            threads=threads,
            unit="dots/s",
            ours=lambda: inp.ev1k.dot(inp.w32),
            items=1,
            peer=peer_or_none(phe_dot),
            peer_name="phe (extrapolated)",
            peer_items=inp.k_dot / 1000,
            goal=goal("dot 1000 x 32-bit", threads),
            check=check_dot,
            setup=prepare("ev1k", "w32"),
        )
    )
    for holder in ("public", "private"):
        op = f"packed pipeline ({holder} key)"
        out.append(
            _pipeline(inp, holder, peer_or_none, prepare, quick=quick, goal=goal(op, threads))
        )
    return out


def _pipeline(
    inp: _Inputs,
    holder: str,
    peer_or_none: Callable[[Callable[[], object]], Callable[[], object] | None],
    prepare: Callable[..., Callable[[], None]],
    *,
    quick: bool,
    goal: float | None,
) -> Scenario:
    """Values per second of the packed pipeline (r = 16, k = parties): every party encrypts
    its float32 update, the server adds, the key owner decrypts.

    ``holder="private"``: the parties hold the key pair (BatchCrypt's HFL setting) and
    encrypt by CRT; ``"public"``: they only have the public key.  The peer is phe's
    per-value pipeline (each party encrypts the value, the server adds, the key owner
    decrypts), timed on a few values and compared per value.
    """

    def ours() -> np.ndarray:
        key = inp.sk if holder == "private" else inp.pk
        packed = [inp.scheme.encrypt(key, g, threads=inp.threads) for g in inp.grads]
        return inp.sk.decrypt(paillier.PackedVector.sum(packed), threads=inp.threads)

    def check() -> None:
        truth = np.sum([np.clip(g.astype(np.float64), -0.01, 0.01) for g in inp.grads], axis=0)
        if np.abs(ours() - truth).max() > inp.scheme.error_bound() + 1e-9:  # pragma: no cover
            raise FedCryptoError("packed pipeline result outside the error bound")

    def peer() -> None:
        ppk, psk = inp.phe_pair
        for i in range(PHE_PIPELINE_SAMPLE):
            encs = [ppk.encrypt(float(g[i])) for g in inp.grads]
            acc = encs[0]
            for e in encs[1:]:
                acc = acc + e
            psk.decrypt(acc)

    return Scenario(
        op=f"packed pipeline ({holder} key)",
        group=GROUP,
        params=(
            f"{inp.key_size}-bit, {inp.values} values x {inp.parties} parties, "
            f"{inp.threads} threads"
        ),
        threads=inp.threads,
        unit="values/s",
        ours=ours,
        items=inp.values,
        peer=peer_or_none(peer),
        peer_name="phe",
        peer_items=PHE_PIPELINE_SAMPLE,
        goal=goal,
        check=None if quick else check,
        rounds=1,
        setup=prepare("grads", "scheme"),
    )


_WARM = "encrypt from a warm pool"


def _warm_pool(
    inp: _Inputs,
    threads: int,
    peer_or_none: Callable[[Callable[[], object]], Callable[[], object] | None],
    prepare: Callable[..., Callable[[], None]],
    goal: float | None,
) -> Scenario:
    """Values per second of ``pk.encrypt(x, pool=pool)`` from a full pool: the online part
    of offline/online encryption (one product per value).

    The setup fills the pool with :meth:`RandomizerPool.start_refill` (the background path,
    not timed) for every call the scenario makes (one round: two calls at most) and stops
    the refill before the timing, so it does not compete with the online part.
    """
    calls = 2
    state: dict[str, paillier.RandomizerPool] = {}

    def setup() -> None:
        prepare("ints")()
        need = inp.pool_values * calls
        pool = paillier.RandomizerPool(inp.pk)
        pool.start_refill(need, threads=inp.threads)
        deadline = time.monotonic() + 3600
        while pool.remaining < need and time.monotonic() < deadline:
            time.sleep(0.02)
        pool.stop_refill()
        if pool.remaining < need:  # pragma: no cover - only on a stalled machine
            raise FedCryptoError("the randomizer pool did not fill within an hour")
        state["pool"] = pool

    def x() -> np.ndarray:
        reps = -(-inp.pool_values // len(inp.ints))
        return np.tile(inp.ints, reps)[: inp.pool_values]

    def ours() -> object:
        pool = state["pool"]
        before = pool.remaining
        ev = inp.pk.encrypt(x(), pool=pool, threads=threads)
        if before - pool.remaining != inp.pool_values:  # pragma: no cover
            raise FedCryptoError("warm-pool encryption did not take its randomizers from the pool")
        return ev

    return Scenario(
        op=_WARM,
        group=GROUP,
        params=f"{_label(inp.key_size, threads)}, {inp.pool_values} values",
        threads=threads,
        unit="ops/s",
        ours=ours,
        items=inp.pool_values,
        peer=peer_or_none(lambda: [inp.phe_pair[0].encrypt(int(v)) for v in inp.ints[: inp.k_phe]]),
        peer_name="phe",
        peer_items=inp.k_phe,
        goal=goal,
        rounds=1,
        setup=setup,
    )
