"""``python -m fedcrypto.psi ...`` is ``fedcrypto psi ...``."""

import sys

from ..cli import main

sys.exit(main(["psi", *sys.argv[1:]]))
