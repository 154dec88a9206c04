"""Helpers the tests share: data writers and real servers. Fixtures stay in conftest.py."""
