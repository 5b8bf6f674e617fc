"""Generate the bundled PSI sample files examples/data/psi_party_a.csv and psi_party_b.csv.

Synthetic, deterministic and free of personal data: customer ids ``C0000000``..., e-mail
addresses under the reserved ``example.com`` domain, made-up names from syllables, and
fields derived from SHA-256 of a counter (no randomness, so the files are reproducible
byte for byte).  Party A has 5,000 rows and party B 4,000; 2,500 customers are shared.
A few rows exercise normalization: B writes some shared e-mails in upper case with
surrounding spaces, so ``--normalize strip,lower`` on the email column finds them.

Run: ``python examples/make_psi_samples.py`` (rewrites both files).
"""

from __future__ import annotations

import csv
import hashlib
import os

SYLLABLES = ["ka", "lo", "mi", "ra", "ne", "to", "su", "vi", "da", "el", "or", "an"]
REGIONS = ["north", "south", "east", "west", "central"]
HERE = os.path.dirname(os.path.abspath(__file__))


def _h(*parts: object) -> int:
    data = "/".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(b"fedcrypto-psi-samples/" + data).digest()[:8], "big")


def _name(i: int) -> str:
    v = _h("name", i)
    parts = [SYLLABLES[(v >> (4 * k)) % len(SYLLABLES)] for k in range(2 + v % 2)]
    return "".join(parts).capitalize()


def customer(i: int) -> dict[str, str]:
    """The synthetic customer number ``i`` (identical in both files)."""
    first, last = _name(2 * i), _name(2 * i + 1)
    return {
        "customer_id": f"C{i:07d}",
        "email": f"{first.lower()}.{last.lower()}.{i}@example.com",
        "name": f"{first} {last}",
        "region": REGIONS[_h("region", i) % len(REGIONS)],
        "signup": (
            f"20{18 + _h('y', i) % 7:02d}-{1 + _h('m', i) % 12:02d}-{1 + _h('d', i) % 28:02d}"
        ),
    }


def main() -> None:
    out = os.path.join(HERE, "data")
    os.makedirs(out, exist_ok=True)
    a_ids = range(0, 5000)  # customers 0..4999
    b_ids = range(2500, 6500)  # customers 2500..6499: 2,500 shared with A
    with open(os.path.join(out, "psi_party_a.csv"), "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["customer_id", "email", "name", "region", "signup"])
        for i in a_ids:
            c = customer(i)
            w.writerow([c["customer_id"], c["email"], c["name"], c["region"], c["signup"]])
    with open(os.path.join(out, "psi_party_b.csv"), "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["customer_id", "email", "spend_eur", "visits"])
        for i in b_ids:
            c = customer(i)
            email = c["email"]
            if i % 10 == 0:  # messy formatting the normalizer must undo
                email = f"  {email.upper()} "
            w.writerow(
                [
                    c["customer_id"],
                    email,
                    f"{_h('spend', i) % 100000 / 100:.2f}",
                    _h("visits", i) % 50,
                ]
            )


if __name__ == "__main__":
    main()
