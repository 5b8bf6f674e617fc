"""Integrations of fedcrypto's protocols into host frameworks (optional extras).

Each subpackage imports its framework lazily and only when imported itself:
``import fedcrypto`` never imports a host framework.

* :mod:`fedcrypto.integrations.flower`: Flower (``pip install 'fedcrypto[flower]'``).
"""
