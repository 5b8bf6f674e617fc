"""End-to-end rounds: the aggregate is exactly the sum of the included inputs mod 2^k,
for many dropout schedules, both variants and SecAgg+."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedcrypto.exceptions import InvalidArgumentError, InvalidTypeError, ProtocolError
from fedcrypto.secagg import ROUNDS, neighbor_map, simulate, simulate_round


def _inputs(n: int, length: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)  # test data only, not cryptographic
    hi = 1 << min(k, 63)
    return rng.integers(0, hi, size=(n, length), dtype=np.uint64)


def _expected(x: np.ndarray, included: np.ndarray, k: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        total = x[included].sum(axis=0, dtype=np.uint64)
    if k < 64:
        total &= np.uint64((1 << k) - 1)
    return total


def _model(n: int, t: int, drops: dict[str, set[int]], active: bool) -> tuple[list[int], bool]:
    """Which clients end up in the sum, and whether the round can succeed (Bonawitz)."""
    alive = set(range(n))
    sizes = []
    alive -= drops["advertise_keys"]
    sizes.append(len(alive))
    alive -= drops["share_keys"]
    sizes.append(len(alive))
    alive -= drops["masked_input"]
    u3 = sorted(alive)
    sizes.append(len(alive))
    alive -= drops["consistency"]
    if active:
        sizes.append(len(alive))
    alive -= drops["unmasking"]
    sizes.append(len(alive))
    return u3, all(s >= t for s in sizes)


@st.composite
def schedules(draw: st.DrawFn) -> tuple[int, int, dict[str, set[int]], int, bool]:
    n = draw(st.integers(3, 8))
    t = draw(st.integers(n // 2 + 1, n))
    k = draw(st.sampled_from([1, 7, 16, 32, 33, 63, 64]))
    active = draw(st.booleans())
    drops: dict[str, set[int]] = {r: set() for r in ROUNDS}
    remaining = list(range(n))
    for r in ROUNDS:
        chosen = (
            draw(st.lists(st.sampled_from(remaining), max_size=2, unique=True)) if remaining else []
        )
        drops[r] = set(chosen)
        remaining = [c for c in remaining if c not in drops[r]]
    return n, t, drops, k, active


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules(), st.integers(1, 6), st.integers(0, 2**32))
def test_aggregate_matches_plaintext_sum(sched, length, seed) -> None:
    n, t, drops, k, active = sched
    x = _inputs(n, length, k, seed)
    u3, ok = _model(n, t, drops, active)
    if not ok:
        with pytest.raises(ProtocolError):
            simulate(x, threshold=t, dropouts=drops, modulus_bits=k, active=active)
        return
    agg, included = simulate(x, threshold=t, dropouts=drops, modulus_bits=k, active=active)
    assert included.tolist() == u3
    assert agg.dtype == np.uint64
    np.testing.assert_array_equal(agg, _expected(x, included, k))


@pytest.mark.parametrize("active", [False, True])
@pytest.mark.parametrize("round_name", ROUNDS)
def test_dropout_at_every_round(round_name: str, active: bool) -> None:
    n, t = 7, 4
    x = _inputs(n, 20, 32, 7)
    drops = {round_name: [2, 5]}
    agg, included = simulate(x, threshold=t, dropouts=drops, active=active)
    expected_in = [c for c in range(n) if not (round_name in ROUNDS[:3] and c in (2, 5))]
    assert included.tolist() == expected_in
    np.testing.assert_array_equal(agg, _expected(x, included, 32))


def test_no_dropout_includes_everyone_and_masks_hide_inputs() -> None:
    x = _inputs(5, 50, 32, 1)
    rep = simulate_round(x, threshold=3)
    assert rep.included.tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(rep.aggregate, _expected(x, rep.included, 32))
    assert rep.client_bytes_sent.min() > 50 * 4  # the masked vector is uploaded
    assert rep.server_seconds > 0 and rep.client_seconds.min() > 0


def test_negative_inputs_wrap_mod_2k() -> None:
    x = np.array([[-1, 5], [-2, -5], [3, 0]], dtype=np.int64)
    agg, included = simulate(x, threshold=2, modulus_bits=16)
    assert included.tolist() == [0, 1, 2]
    assert agg.tolist() == [0, 0]


def test_too_few_survivors_is_a_protocol_error() -> None:
    x = _inputs(6, 4, 32, 3)
    with pytest.raises(ProtocolError, match="threshold"):
        simulate(x, threshold=4, dropouts={"masked_input": [0, 1, 2]})
    with pytest.raises(ProtocolError):
        simulate(x, threshold=4, dropouts={"advertise_keys": [0], "share_keys": [1, 2]})
    with pytest.raises(ProtocolError):
        simulate(x, threshold=4, dropouts={"unmasking": [0, 1, 2]})
    with pytest.raises(ProtocolError):
        simulate(x, threshold=4, active=True, dropouts={"consistency": [0, 1, 2]})


@pytest.mark.parametrize("active", [False, True])
def test_secagg_plus_with_dropouts(active: bool) -> None:
    n, k, t = 12, 6, 5
    x = _inputs(n, 30, 32, 11)
    agg, included = simulate(
        x, threshold=t, neighbors=k, active=active, dropouts={"masked_input": [3], "unmasking": [8]}
    )
    assert 3 not in included.tolist() and len(included) == n - 1
    np.testing.assert_array_equal(agg, _expected(x, included, 32))


@settings(max_examples=15, deadline=None)
@given(
    st.integers(8, 14),
    st.binary(min_size=32, max_size=32),
    st.sets(st.integers(0, 13), max_size=3),
    st.sets(st.integers(0, 13), max_size=2),
    st.booleans(),
)
def test_secagg_plus_property(
    n: int, sid: bytes, dropped: set[int], late: set[int], active: bool
) -> None:
    t, degree = 4, 4
    x = _inputs(n, 5, 32, int.from_bytes(sid[:4], "big"))
    early = {d for d in dropped if d < n}
    late_set = {d for d in late if d < n} - early
    drops = {"masked_input": early, "unmasking": late_set}
    nmap = neighbor_map(range(n), degree, sid)
    u3 = set(range(n)) - early
    u5 = u3 - late_set
    # Exact model: every survivor's b and every dropped client's s^SK needs t live holders
    # (a client and its neighbours) among the clients answering the unmasking request.
    ok = all(len(({o} | nmap[o]) & u5) >= t for o in u3) and all(
        len(nmap[v] & u5) >= t for v in early
    )
    if not ok:
        with pytest.raises(ProtocolError):
            simulate_round(
                x, threshold=t, neighbors=degree, dropouts=drops, active=active, session_id=sid
            )
        return
    rep = simulate_round(
        x, threshold=t, neighbors=degree, dropouts=drops, active=active, session_id=sid
    )
    assert set(rep.included.tolist()) == u3
    np.testing.assert_array_equal(rep.aggregate, _expected(x, rep.included, 32))


def test_simulate_rejects_bad_arguments() -> None:
    x = _inputs(4, 3, 32, 0)
    with pytest.raises(InvalidArgumentError):
        simulate(x, threshold=3, dropouts={"bogus": [1]})
    with pytest.raises(InvalidArgumentError):
        simulate(x, threshold=3, dropouts={"share_keys": [9]})
    with pytest.raises(InvalidTypeError):
        simulate(x.astype(float), threshold=3)
    with pytest.raises(InvalidArgumentError):
        simulate(x[0], threshold=3)
    with pytest.raises(InvalidArgumentError):
        simulate(x, threshold=2)  # not a strict majority of 4
    with pytest.raises(InvalidArgumentError):
        simulate(x, threshold=3, modulus_bits=65)
