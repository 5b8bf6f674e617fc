"""The Paillier scenarios: fedcrypto against python-paillier (phe) on the same key.

phe is slow, so it runs on a small sample per operation and is compared per item; the dot
product and the packed pipeline extrapolate phe's per-term / per-value time.  The goals are
those of issue 3 (ratio = fedcrypto's rate / phe's rate).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from ... import paillier
from ..._random import VectorRNG
from ...exceptions import FedCryptoError
from ._scenarios import Scenario

__all__ = ["paillier_scenarios", "phe_keys"]

GROUP = "paillier"
#: ``(one thread, all cores)`` goals, as ratios fedcrypto / phe.
ENCRYPT_GOALS = (15.0, 28.0)
DECRYPT_GOALS = (1.2, 2.2)
ADD_GOAL = 1.2
MUL_GOAL = 2.0  # all cores
DOT_GOAL = 4.0
PIPELINE_GOAL = 1500.0


def phe_keys(phe: Any, sk: paillier.PaillierPrivateKey) -> tuple[Any, Any]:
    """python-paillier's public and private key on the same primes as ``sk``."""
    ppk = phe.PaillierPublicKey(sk.public_key().n)
    return ppk, phe.PaillierPrivateKey(ppk, *sk.private_numbers())


def _threads_label(bits: int, threads: int) -> str:
    return f"{bits}-bit, {threads} thread{'s' if threads != 1 else ''}"


def paillier_scenarios(
    sk: paillier.PaillierPrivateKey,
    *,
    threads: int,
    phe: Any = None,
    quick: bool = False,
    pipeline_values: int = 10000,
    parties: int = 8,
) -> list[Scenario]:
    """Every Paillier scenario for one key: encrypt (constant and variable time), decrypt,
    add, multiply by 32-bit scalars, a 1,000-term dot product and the packed pipeline,
    on one thread and on ``threads``.

    ``phe`` is the python-paillier module (the peer) or None to time fedcrypto alone.
    ``quick`` shrinks the counts.  Builds the key's tables first (:meth:`warm_up`).
    """
    pk = sk.public_key()
    for vt in (False, True):
        sk.warm_up(variable_time=vt)
    bits = pk.key_size
    ppk: Any = None
    psk: Any = None
    if phe is not None:
        ppk, psk = phe_keys(phe, sk)
    rng = VectorRNG()
    n_enc, n_dec, n_add, n_mul = (32, 16, 2000, 64) if quick else (64, 32, 4000, 128)
    k_phe = 3 if quick else 6
    ints = rng.below(1 << 32, 1000).astype(np.int64)
    w32 = rng.below(1 << 32, 1000).astype(np.int64)
    out: list[Scenario] = []
    thread_set = sorted({1, threads})

    def with_phe(fn: Callable[[], object]) -> Callable[[], object] | None:
        return fn if phe is not None else None

    phe_cts = [ppk.encrypt(int(v)) for v in ints[:k_phe]] if ppk is not None else []

    # encryption (DJN, public key), constant-time table and the unsafe variable-time one
    for vt, label in ((False, "encrypt"), (True, "encrypt unsafe_variable_time")):
        for th in thread_set:
            out.append(
                Scenario(
                    op=label,
                    group=GROUP,
                    params=_threads_label(bits, th),
                    threads=th,
                    unit="ops/s",
                    ours=functools.partial(
                        pk.encrypt, ints[:n_enc], threads=th, unsafe_variable_time=vt
                    ),
                    items=n_enc,
                    peer=with_phe(lambda: [ppk.encrypt(int(v)) for v in ints[:k_phe]]),
                    peer_name="phe",
                    peer_items=k_phe,
                    goal=ENCRYPT_GOALS[0] if th == 1 else ENCRYPT_GOALS[1],
                )
            )
    # decryption (CRT), constant time on 1 and all threads, variable time on 1
    ev = pk.encrypt(ints[: max(n_dec, n_mul)], threads=threads)

    def check_decrypt() -> None:
        if not np.array_equal(sk.decrypt(ev[:n_dec]), ints[:n_dec]):  # pragma: no cover
            raise FedCryptoError("decryption benchmark: wrong plaintexts")

    for th, vt, goal in (
        *((t, False, DECRYPT_GOALS[0] if t == 1 else DECRYPT_GOALS[1]) for t in thread_set),
        (1, True, None),
    ):
        out.append(
            Scenario(
                op="decrypt unsafe_variable_time" if vt else "decrypt",
                group=GROUP,
                params=_threads_label(bits, th),
                threads=th,
                unit="ops/s",
                ours=functools.partial(sk.decrypt, ev[:n_dec], threads=th, unsafe_variable_time=vt),
                items=n_dec,
                peer=with_phe(lambda: [psk.decrypt(c) for c in phe_cts]),
                peer_name="phe",
                peer_items=len(phe_cts),
                goal=goal,
                check=check_decrypt if not vt else None,
            )
        )
    # addition of ciphertexts
    big = pk.encrypt(ints[:1000], threads=threads)
    big = paillier.concatenate([big] * (n_add // 1000))
    phe_many = (phe_cts * (200 // max(1, len(phe_cts)) + 1))[:200]
    out.append(
        Scenario(
            op="add",
            group=GROUP,
            params=_threads_label(bits, threads),
            threads=threads,
            unit="ops/s",
            ours=lambda: big + big,
            items=n_add,
            peer=with_phe(lambda: [a + b for a, b in zip(phe_many, phe_many, strict=True)]),
            peer_name="phe",
            peer_items=len(phe_many),
            goal=ADD_GOAL,
        )
    )
    # multiplication by 32-bit plaintexts (elementwise)
    wv = w32[:n_mul]

    def check_mul() -> None:
        got = sk.decrypt(ev[:n_mul] * wv).astype(object)
        if not np.array_equal(got, ints[:n_mul].astype(object) * wv.astype(object)):
            raise FedCryptoError("multiplication benchmark: wrong plaintexts")  # pragma: no cover

    for th in thread_set:
        out.append(
            Scenario(
                op="mul 32-bit scalar",
                group=GROUP,
                params=_threads_label(bits, th),
                threads=th,
                unit="ops/s",
                ours=functools.partial(ev[:n_mul].multiply, wv, threads=th),
                items=n_mul,
                peer=with_phe(lambda: [a * int(b) for a, b in zip(phe_cts, w32, strict=False)]),
                peer_name="phe",
                peer_items=len(phe_cts),
                goal=MUL_GOAL if th == threads else None,
                check=check_mul,
            )
        )
    # dot product of 1,000 ciphertexts with 32-bit weights; phe timed on k terms
    ev1k = big[:1000]
    w1k = w32[:1000]
    k_dot = 30 if quick else 60
    sample = (phe_cts * (k_dot // max(1, len(phe_cts)) + 1))[:k_dot]

    def phe_dot() -> object:
        acc = sample[0] * int(w1k[0])
        for a, b in zip(sample[1:], w1k[1:k_dot], strict=True):
            acc = acc + a * int(b)
        return acc

    def check_dot() -> None:
        want = int(ints[:1000].astype(object) @ w1k.astype(object))
        if sk.decrypt(ev1k.dot(w1k))[0] != want:  # pragma: no cover
            raise FedCryptoError("dot product benchmark: wrong plaintext")

    out.append(
        Scenario(
            op="dot 1000 x 32-bit",
            group=GROUP,
            params=_threads_label(bits, threads),
            threads=threads,
            unit="dots/s",
            ours=lambda: ev1k.dot(w1k),
            items=1,
            peer=with_phe(phe_dot),
            peer_name="phe (extrapolated)",
            peer_items=k_dot / 1000,
            goal=DOT_GOAL,
            check=check_dot,
        )
    )
    # the packed aggregation pipeline, parties holding the public key or the key pair
    for holder in ("public", "private"):
        out.append(_pipeline(sk, ppk, psk, pipeline_values, parties, threads, holder, quick=quick))
    return out


def _pipeline(
    sk: paillier.PaillierPrivateKey,
    ppk: Any,
    psk: Any,
    values: int,
    parties: int,
    threads: int,
    holder: str,
    *,
    quick: bool,
) -> Scenario:
    """Values per second of the packed pipeline (r = 16, k = parties): every party
    encrypts its float32 update, the server adds, the key owner decrypts.

    ``holder="private"``: the parties hold the key pair (BatchCrypt's HFL setting) and
    encrypt by CRT; ``"public"``: they only have the public key.  The peer is phe's
    per-value pipeline (each party encrypts the value, the server adds, the key owner
    decrypts), timed on 2 values and compared per value.
    """
    pk = sk.public_key()
    rng = VectorRNG()
    grads = [((rng.uniform(values) - 0.5) * 0.02).astype(np.float32) for _ in range(parties)]
    scheme = paillier.PackingScheme(bits=16, parties=parties, alpha=0.01)
    key: paillier.PaillierPrivateKey | paillier.PaillierPublicKey = (
        sk if holder == "private" else pk
    )

    def ours() -> np.ndarray:
        packed = [scheme.encrypt(key, g, threads=threads) for g in grads]
        return sk.decrypt(paillier.PackedVector.sum(packed), threads=threads)

    def check() -> None:
        truth = np.sum([np.clip(g.astype(np.float64), -0.01, 0.01) for g in grads], axis=0)
        if np.abs(ours() - truth).max() > scheme.error_bound() + 1e-9:  # pragma: no cover
            raise FedCryptoError("packed pipeline result outside the error bound")

    sample = 2

    def peer() -> None:
        for i in range(sample):
            encs = [ppk.encrypt(float(g[i])) for g in grads]
            acc = encs[0]
            for e in encs[1:]:
                acc = acc + e
            psk.decrypt(acc)

    return Scenario(
        op=f"packed pipeline ({holder} key)",
        group=GROUP,
        params=f"{pk.key_size}-bit, {values} values x {parties} parties, {threads} threads",
        threads=threads,
        unit="values/s",
        ours=ours,
        items=values,
        peer=peer if ppk is not None else None,
        peer_name="phe",
        peer_items=sample,
        goal=PIPELINE_GOAL,
        check=None if quick else check,
        rounds=1,
    )
