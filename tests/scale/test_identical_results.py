"""Results never depend on the executor: inline, local process pool, TLS Dask cluster.

Chunk thresholds are lowered (in this process only: they decide how batches are cut) so
that small inputs still become many tasks on the workers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fedcrypto.paillier import PackingScheme, generate_private_key
from fedcrypto.psi import PsiSettings, run_pair


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import fedcrypto.paillier._distribute as dist
    import fedcrypto.psi._commutative as comm
    import fedcrypto.psi._rsa as rsa

    monkeypatch.setattr(comm, "PARALLEL_MIN_ITEMS", {"curve25519": 32, "p256": 32})
    monkeypatch.setattr(comm, "PARALLEL_MIN_ITEMS_DH", 16)
    monkeypatch.setattr(rsa, "_MIN_ITEMS", 16)
    monkeypatch.setattr(dist, "TASK_ROWS", 40)


def _ids(lo: int, hi: int) -> list[bytes]:
    return [b"user-%06d" % i for i in range(lo, hi)]


A = _ids(0, 260)
B = _ids(130, 400)
WANT_A = np.arange(130, 260)
WANT_B = np.arange(0, 130)


def _executors(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {
        "inline": None,
        "pool": request.getfixturevalue("pool_ex"),
        "dask": request.getfixturevalue("dask_ex"),
    }


@pytest.mark.parametrize(
    ("protocol", "group", "reveal"),
    [
        ("ecdh", "curve25519", "both"),
        ("ecdh", "p256", "count"),
        ("dh", None, "both"),
        ("rsa", None, "both"),
    ],
)
@pytest.mark.parametrize("buckets", [1, 3])
def test_psi_identical(
    request: pytest.FixtureRequest, protocol: str, group: str | None, reveal: str, buckets: int
) -> None:
    s = PsiSettings(protocol=protocol, group=group, reveal=reveal, batch_size=128, buckets=buckets)
    for name, ex in _executors(request).items():
        ra, rb = run_pair(s, A, B, executor=ex)
        assert ra.count == rb.count == 130, name
        if reveal == "both":
            assert ra.indices is not None and rb.indices is not None
            np.testing.assert_array_equal(ra.indices, WANT_A, err_msg=name)
            np.testing.assert_array_equal(rb.indices, WANT_B, err_msg=name)


def test_paillier_identical(request: pytest.FixtureRequest) -> None:
    sk = generate_private_key(512, unsafe_allow_small_keys=True)
    pk = sk.public_key()
    values = np.arange(-150, 150, dtype=np.int64) * 1_000_003
    floats = np.linspace(-1, 1, 500).reshape(20, 25)
    scheme = PackingScheme(bits=8, parties=2, alpha=1.0, rounding="nearest")
    expected_packed = None
    for name, ex in _executors(request).items():
        c = pk.encrypt(values, executor=ex)
        np.testing.assert_array_equal(sk.decrypt(c), values, err_msg=name)
        np.testing.assert_array_equal(sk.decrypt(c, executor=ex), values, err_msg=name)
        c2 = sk.encrypt(values, executor=ex)
        np.testing.assert_array_equal(sk.decrypt(c2, executor=ex), values, err_msg=name)
        packed = scheme.encrypt(pk, floats, executor=ex)
        got = packed.decrypt(sk, executor=ex)
        if expected_packed is None:
            expected_packed = got
        np.testing.assert_array_equal(got, expected_packed, err_msg=name)
        assert np.abs(got - floats).max() <= scheme.error_bound(1) + 1e-12
