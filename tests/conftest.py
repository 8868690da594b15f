"""Shared fixtures.  Agent fixtures live in tests/integration/conftest.py."""
