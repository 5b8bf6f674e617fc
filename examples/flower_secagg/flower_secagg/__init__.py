"""A complete Flower app with fedcrypto secure aggregation (see README.md)."""
