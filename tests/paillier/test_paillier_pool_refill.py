"""RandomizerPool background refill: target and memory cap, concurrent take, prompt stop,
single use of every randomizer, correct decryption, fork safety, no secrets in repr."""

from __future__ import annotations

import gc
import os
import re
import threading
import time
import warnings

import numpy as np
import pytest

from fedcrypto import paillier
from fedcrypto.exceptions import FedCryptoError, InvalidArgumentError

from .conftest import scale


def _wait_for(cond: object, deadline_s: float = 60.0) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def _rows(a: np.ndarray) -> list[bytes]:
    return [bytes(r) for r in np.ascontiguousarray(a)]


def _decrypts_with(sk, pk, rho: np.ndarray, values: list[int]) -> bool:
    """Encrypt ``values`` with the given randomizers by hand: c = (1 + m n) * rho mod n^2."""
    nsq = pk.n * pk.n
    rhos = [int.from_bytes(r.astype("<u8").tobytes(), "little") for r in rho]
    cts = [(1 + m * pk.n) * r % nsq for m, r in zip(values, rhos, strict=True)]
    ev = paillier.EncryptedVector.from_ciphertexts(pk, cts)
    return bool(sk.decrypt(ev).tolist() == values)


def test_refill_reaches_target_and_stays_there(sk, pk) -> None:
    pool = paillier.RandomizerPool(pk)
    target = scale(80, 12)
    pool.start_refill(target)
    try:
        assert pool.refilling
        assert _wait_for(lambda: pool.remaining == target)
        time.sleep(0.1)
        assert pool.remaining == target  # never overshoots: memory bounded by the target
        got = pool.take(target // 2)
        assert got.shape == (target // 2, pk.ciphertext_width)
        assert _wait_for(lambda: pool.remaining == target)  # the take woke the thread
        assert _decrypts_with(sk, pk, got[:3], [1, 2, 3])
    finally:
        assert pool.stop_refill(timeout=30)
    assert not pool.refilling
    left = pool.remaining
    assert left == target  # stopping keeps the stock
    assert sk.decrypt(pk.encrypt(list(range(left)), pool=pool)).tolist() == list(range(left))
    assert pool.remaining == 0


def test_take_while_refilling_never_repeats_a_randomizer(sk, pk) -> None:
    pool = paillier.RandomizerPool(pk)
    pool.start_refill(scale(48, 8), threads=1)
    per_thread, takers = scale(60, 10), 3
    taken: list[list[np.ndarray]] = [[] for _ in range(takers)]
    errors: list[BaseException] = []

    def consume(i: int) -> None:
        try:
            got = 0
            while got < per_thread:
                part = pool.take(min(7, per_thread - got))
                if part.shape[0]:
                    taken[i].append(part)
                    got += part.shape[0]
                else:
                    time.sleep(0.001)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    encrypted: list[object] = []

    def encrypt_with_pool() -> None:
        try:
            values = list(range(scale(40, 6)))
            encrypted.append((values, pk.encrypt(values, pool=pool)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=consume, args=(i,)) for i in range(takers)]
    workers.append(threading.Thread(target=encrypt_with_pool))
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert pool.stop_refill(timeout=30)
    assert not errors and not any(w.is_alive() for w in workers)
    rows = [r for parts in taken for p in parts for r in _rows(p)]
    rows += _rows(pool.take(pool.remaining))
    assert len(rows) >= takers * per_thread
    assert len(set(rows)) == len(rows)  # single use across threads and refills
    sample = np.concatenate([parts[0] for parts in taken])
    assert _decrypts_with(sk, pk, sample, list(range(len(sample))))
    ((values, ev),) = encrypted
    assert sk.decrypt(ev).tolist() == values  # type: ignore[attr-defined]


def test_stop_is_prompt_and_final(pk) -> None:
    pool = paillier.RandomizerPool(pk)
    big = min(pool.max_target(), 200_000)  # hours to fill: stop must not wait for it
    pool.start_refill(big)
    assert _wait_for(lambda: pool.remaining > 0)
    t0 = time.monotonic()
    assert pool.stop_refill(timeout=60)
    assert time.monotonic() - t0 < 10.0  # at most one native batch, not the whole target
    assert not pool.refilling
    left = pool.remaining
    time.sleep(0.2)
    assert pool.remaining == left < big
    assert pool.stop_refill() and pool.stop() is True  # idempotent; stop is an alias


def test_restart_and_retarget(pk) -> None:
    pool = paillier.RandomizerPool(pk)
    pool.start_refill(5)
    assert _wait_for(lambda: pool.remaining == 5)
    pool.start_refill(9)  # only changes the target of the running thread
    assert _wait_for(lambda: pool.remaining == 9)
    pool.stop_refill()
    pool.take(9)
    pool.start_refill(4)
    assert _wait_for(lambda: pool.remaining == 4)
    pool.stop_refill()


def test_bad_targets_are_rejected(pk) -> None:
    pool = paillier.RandomizerPool(pk)
    cap = pool.max_target()
    assert cap * pk.ciphertext_width * 8 <= paillier.MAX_POOL_BYTES
    for bad in (0, -1, cap + 1, True, 2.5, "10"):
        with pytest.raises(InvalidArgumentError):
            pool.start_refill(bad)  # type: ignore[arg-type]
    for bad_threads in (0, -2, True, None):
        with pytest.raises(InvalidArgumentError):
            pool.start_refill(5, threads=bad_threads)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        pool.take(-1)
    assert not pool.refilling


def test_repr_shows_no_randomizer(pk) -> None:
    pool = paillier.RandomizerPool(pk, 2)
    pool.start_refill(3)
    try:
        text = repr(pool)
        assert re.fullmatch(r"<RandomizerPool djn remaining=\d+( refilling)?>", text), text
    finally:
        pool.stop_refill()
    head = pool.take(1)[0]
    assert str(int.from_bytes(head.astype("<u8").tobytes(), "little")) not in repr(pool)


def test_dropping_the_pool_stops_its_thread(pk) -> None:
    pool = paillier.RandomizerPool(pk)
    pool.start_refill(min(pool.max_target(), 100_000))
    thread = pool._stock.thread
    assert thread is not None and thread.is_alive()
    del pool
    gc.collect()
    thread.join(60)
    assert not thread.is_alive()


def test_refill_failure_is_reported(pk, monkeypatch: pytest.MonkeyPatch) -> None:
    from fedcrypto.paillier import _pool

    def broken(*args: object, **kwargs: object) -> np.ndarray:
        raise MemoryError("simulated")

    monkeypatch.setattr(_pool._crypto, "randomizers", broken)
    pool = paillier.RandomizerPool(pk)
    pool.start_refill(4)
    assert _wait_for(lambda: not pool.refilling)
    with pytest.raises(FedCryptoError, match="refill failed"):
        pool.stop_refill()
    monkeypatch.undo()
    pool.start_refill(2)  # the error was reported once; a new refill works
    assert _wait_for(lambda: pool.remaining == 2)
    pool.stop_refill()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_while_refilling_gives_an_empty_working_pool(sk, pk) -> None:
    pool = paillier.RandomizerPool(pk)
    pool.start_refill(min(pool.max_target(), 100_000))
    assert _wait_for(lambda: pool.remaining > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # child: nothing inherited, no deadlock on the parent's lock
        ok = pool.remaining == 0 and pool.take(3).shape[0] == 0 and not pool.refilling
        pool.refill(2)
        ok = ok and pool.remaining == 2
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert pool.stop_refill(timeout=60)
    assert os.WEXITSTATUS(status) == 0
    assert pool.remaining > 0
