"""Every public hazmat function takes exactly its documented types (issue 8 finding 11).

Two parts:

* the reported cases, pinned: numpy exponent arrays (accepted and correct), generators
  (typed error), a float ``rounds`` (typed error), ``rounds=0`` (refused: it used to
  call composites prime), ``secret="no"`` (refused: it used to mean True);
* an audit of the whole class of bug: every argument of every public function in
  hazmat.modmath, hazmat.h2c, hazmat.groups and hazmat.rsa_blind is replaced in turn by
  each of a set of wrong values; the call must either succeed or raise a
  ``FedCryptoError`` (``InvalidTypeError`` / ``InvalidArgumentError``), never a built-in
  ``TypeError``, ``ValueError``, ``ZeroDivisionError``, ``OverflowError``, ``MemoryError``...
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fedcrypto.exceptions import FedCryptoError, InvalidArgumentError, InvalidTypeError
from fedcrypto.hazmat import groups, h2c, modmath, rsa_blind

M = (1 << 127) - 1  # an odd prime
#: a strong pseudoprime to base 2 with no prime factor below 100 (151 * 751 * 28351)
SPSP2 = 3215031751


# -- the reported cases ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.int64, np.uint64, np.int32, object])
def test_numpy_exponent_arrays_are_accepted(dtype: Any) -> None:
    bases, exps = [2, 3, 5], np.array([5, 7, 0], dtype=dtype)
    want = [pow(b, int(e), M) for b, e in zip(bases, exps, strict=True)]
    assert modmath.powmod_many(bases, exps, M) == want
    assert modmath.powmod_many(bases, exps, M, secret=True, exp_bits=64) == want
    assert modmath.multi_powmod(bases, exps, M) == want[0] * want[1] * want[2] % M
    assert modmath.FixedBase(3, M, max_exp_bits=64).pow_many(exps) == [
        pow(3, int(e), M) for e in exps
    ]
    assert modmath.powmod_many(np.array(bases, dtype=dtype), np.int64(3), M) == [
        pow(b, 3, M) for b in bases
    ]
    assert modmath.powmod_many(bases, np.array(9), M) == [pow(b, 9, M) for b in bases]


@pytest.mark.parametrize(
    "exps",
    [
        np.array([1.0, 2.0]),
        np.array([[1, 2]]),
        np.array([True, False]),
        np.array(["1", "2"]),
        np.float64(2.0),
        np.True_,
    ],
)
def test_numpy_non_integer_exponents_are_refused(exps: Any) -> None:
    with pytest.raises(InvalidTypeError):
        modmath.powmod_many([2, 3], exps, M)
    with pytest.raises(InvalidTypeError):
        modmath.FixedBase(3, M, max_exp_bits=64).pow_many(exps)


def test_generators_and_iterators_are_refused() -> None:
    fb = modmath.FixedBase(3, M, max_exp_bits=64)
    with pytest.raises(InvalidTypeError):
        fb.pow_many(e for e in [1, 2])  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        fb.pow_many(iter([1, 2]))  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        modmath.powmod_many((b for b in [2, 3]), 5, M)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        modmath.crt(iter([1, 2]), [3, 5])  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        modmath.prod_mod({2, 3}, M)  # type: ignore[arg-type]
    # sequences of every kind are fine
    assert fb.pow_many(range(3)) == [1, 3, 9]
    assert fb.pow_many((1, 2)) == [3, 9]


@pytest.mark.parametrize("rounds", [2.0, "2", None, True, np.float64(3)])
def test_rounds_must_be_an_integer(rounds: Any) -> None:
    with pytest.raises(InvalidTypeError):
        modmath.is_probable_prime(97, rounds=rounds)


@pytest.mark.parametrize("rounds", [0, -1, 257])
def test_rounds_out_of_range(rounds: int) -> None:
    with pytest.raises(InvalidArgumentError):
        modmath.is_probable_prime(SPSP2, rounds=rounds)


def test_composites_never_pass() -> None:
    """rounds=0 used to return True for a base-2 strong pseudoprime; now it is refused, and
    the default random rounds catch it."""
    assert pow(2, SPSP2 - 1, SPSP2) == 1
    assert not modmath.is_probable_prime(SPSP2)
    assert not modmath.is_probable_prime(SPSP2, rounds=np.int64(8))
    assert modmath.is_probable_prime(M, rounds=1)


@pytest.mark.parametrize("secret", ["no", "", 1, 0, None, np.True_, np.False_])
def test_secret_must_be_a_bool(secret: Any) -> None:
    with pytest.raises(InvalidTypeError):
        modmath.powmod(3, 5, M, secret=secret)
    with pytest.raises(InvalidTypeError):
        modmath.powmod_many([3], 5, M, secret=secret)
    with pytest.raises(InvalidTypeError):
        modmath.FixedBase(3, M, max_exp_bits=8, secret=secret)


def test_caps_on_widths() -> None:
    with pytest.raises(InvalidArgumentError):
        modmath.powmod_many([3], 5, M, exp_bits=(1 << 16) + 1)
    with pytest.raises(InvalidArgumentError):
        modmath.powmod_many([3], 5, M, exp_bits=0)
    with pytest.raises(InvalidArgumentError):
        modmath.FixedBase(3, M, max_exp_bits=(1 << 16) + 1)


# -- the audit -------------------------------------------------------------------------------
class _Weird:
    """Has __index__ that raises, and __len__ that lies."""

    def __index__(self) -> int:
        raise TypeError("no")

    def __len__(self) -> int:
        return 3


WRONG: list[Any] = [
    None,
    1.5,
    float("nan"),
    "3",
    b"\x03",
    True,
    np.True_,
    np.float64(2.0),
    np.array([1, 2]),
    np.array([[1, 2]]),
    np.array([1.5]),
    object(),
    _Weird(),
    iter([1, 2]),
    {1, 2},
    {"a": 1},
    [None],
    [1.5],
    ["x"],
    [b"x"],
    -1,
    0,
    2**5000,
    -(2**5000),
]


def _rsa_material() -> dict[str, Any]:
    key = rsa_blind.RsaBlindKey.generate(512, unsafe_allow_small_keys=True)
    pub = key.public()
    hashes = rsa_blind.full_domain_hash([b"a", b"b"], pub.n, b"d")
    blinded, rs = rsa_blind.blind(hashes, pub)
    sigs = key.sign_many(blinded)
    (p, q), e = key.private_numbers()
    return {
        "key": key,
        "pub": pub,
        "hashes": hashes,
        "blinded": blinded,
        "rs": rs,
        "sigs": sigs,
        "p": p,
        "q": q,
        "e": e,
        "crt": key.private_crt_numbers(),
    }


RSA = _rsa_material()
BIG_N = rsa_blind.RsaBlindKey.generate(2048).public()


def _calls() -> list[tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]]:
    fb = modmath.FixedBase(3, M, max_exp_bits=64)
    grp = groups.get_group("ffdhe2048")
    x_on_curve = h2c.p256_hash_to_curve(b"m", b"d")
    assert x_on_curve is not None
    return [
        ("powmod", modmath.powmod, (3, 5, M), {"secret": False}),
        (
            "powmod_many",
            modmath.powmod_many,
            ([3, 4], [5, 6], M),
            {"secret": False, "exp_bits": 64, "threads": 1},
        ),
        ("mulmod_many", modmath.mulmod_many, ([3], [4], M), {"threads": 1}),
        ("prod_mod", modmath.prod_mod, ([3, 4], M), {}),
        ("multi_powmod", modmath.multi_powmod, ([3, 4], [5, 6], M), {"threads": 1}),
        (
            "FixedBase",
            modmath.FixedBase,
            (3, M),
            {"max_exp_bits": 64, "secret": False, "max_table_bytes": 1 << 20},
        ),
        ("FixedBase.pow", fb.pow, (5,), {}),
        ("FixedBase.pow_many", fb.pow_many, ([5, 6],), {"threads": 1}),
        ("invert", modmath.invert, (3, M), {}),
        ("crt", modmath.crt, ([2, 3], [5, 7]), {}),
        ("is_probable_prime", modmath.is_probable_prime, (97,), {"rounds": 3}),
        ("expand_message_xmd", h2c.expand_message_xmd, (b"m", b"d", 32, "sha256"), {}),
        ("hash_to_field", h2c.hash_to_field, (b"m", b"d", 2, h2c.P256_P, 48, "sha256"), {}),
        ("curve25519_map_to_curve", h2c.curve25519_map_to_curve, (5,), {}),
        ("curve25519_hash_to_curve", h2c.curve25519_hash_to_curve, (b"m", b"d"), {}),
        ("curve25519_encode_to_curve", h2c.curve25519_encode_to_curve, (b"m", b"d"), {}),
        (
            "curve25519_hash_to_u_many",
            h2c.curve25519_hash_to_u_many,
            ([b"m"], b"d"),
            {"threads": 1},
        ),
        ("p256_map_to_curve", h2c.p256_map_to_curve, (5,), {}),
        ("p256_hash_to_curve", h2c.p256_hash_to_curve, (b"m", b"d"), {}),
        ("p256_hash_to_compressed_many", h2c.p256_hash_to_compressed_many, ([b"m"], b"d"), {}),
        ("p256_decompress", h2c.p256_decompress, (x_on_curve[0], True), {}),
        ("get_group", groups.get_group, ("modp2048",), {}),
        ("DhGroup", groups.DhGroup, ("g", "RFC", grp.bits, grp.p), {"g": 2}),
        ("DhGroup.is_subgroup_element", grp.is_subgroup_element, (4,), {}),
        ("RsaPublicNumbers", rsa_blind.RsaPublicNumbers, (RSA["pub"].n, 65537), {}),
        ("check_public_key", rsa_blind.check_public_key, (BIG_N.n, BIG_N.e, 2048), {}),
        ("full_domain_hash", rsa_blind.full_domain_hash, ([b"a"], RSA["pub"].n, b"d"), {}),
        ("blind", rsa_blind.blind, (RSA["hashes"], RSA["pub"]), {}),
        (
            "unblind_and_verify",
            rsa_blind.unblind_and_verify,
            (RSA["sigs"], RSA["rs"], RSA["hashes"], RSA["pub"]),
            {},
        ),
        (
            "RsaBlindKey",
            rsa_blind.RsaBlindKey,
            (RSA["p"], RSA["q"]),
            {"e": 65537, "unsafe_allow_small_keys": True},
        ),
        (
            "RsaBlindKey.generate",
            rsa_blind.RsaBlindKey.generate,
            (512,),
            {"primes": 2, "e": 65537, "unsafe_allow_small_keys": True},
        ),
        ("RsaBlindKey.sign_many", RSA["key"].sign_many, (RSA["blinded"],), {"threads": 1}),
        ("RsaBlindKey.public", RSA["key"].public, (), {}),  # no arguments to get wrong
        ("RsaBlindKey.private_numbers", RSA["key"].private_numbers, (), {}),
        ("RsaBlindKey.private_crt_numbers", RSA["key"].private_crt_numbers, (), {}),
        (
            "RsaBlindKey.from_private_numbers",
            rsa_blind.RsaBlindKey.from_private_numbers,
            (),
            {
                "n": RSA["pub"].n,
                "e": 65537,
                "primes": [RSA["p"], RSA["q"]],
                "exponents": list(RSA["crt"].exponents),
                "coefficients": list(RSA["crt"].coefficients),
                "unsafe_allow_small_keys": True,
            },
        ),
        (
            "RsaPrivateCrtNumbers",
            rsa_blind.RsaPrivateCrtNumbers,
            (
                RSA["pub"].n,
                65537,
                [RSA["p"], RSA["q"]],
                list(RSA["crt"].exponents),
                list(RSA["crt"].coefficients),
            ),
            {"unsafe_allow_small_keys": True},
        ),
    ]


CALLS = _calls()


def test_the_audit_covers_every_public_function() -> None:
    """A new public function or method in these modules must join the audit."""
    covered = {name for name, *_ in CALLS}
    public = set()
    for mod in (modmath, h2c, groups, rsa_blind):
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isfunction(obj):
                public.add(name)
            elif inspect.isclass(obj):
                public.add(name)
                for attr, member in vars(obj).items():
                    if not attr.startswith("_") and (
                        inspect.isfunction(member) or isinstance(member, classmethod)
                    ):
                        public.add(f"{name}.{attr}")
    assert public <= covered, sorted(public - covered)


@pytest.mark.parametrize("name, fn, args, kwargs", CALLS, ids=[c[0] for c in CALLS])
def test_wrong_values_give_typed_errors(
    name: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    fn(*args, **kwargs)  # the base call is valid
    slots: list[tuple[int | str, Any]] = [(i, a) for i, a in enumerate(args)]
    slots += [(k, v) for k, v in kwargs.items()]
    for slot, _ in slots:
        for wrong in WRONG:
            a = list(args)
            kw = dict(kwargs)
            if isinstance(slot, int):
                a[slot] = wrong
            else:
                kw[slot] = wrong
            try:
                fn(*a, **kw)
            except FedCryptoError:
                pass
            except Exception as exc:  # noqa: BLE001 - the point of the test
                pytest.fail(
                    f"{name}: argument {slot!r} = {type(wrong).__name__} raised "
                    f"{type(exc).__name__}: {exc}"
                )
