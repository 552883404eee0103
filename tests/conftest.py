"""Shared fixtures: the throwaway Kerberos realm (tests/kdc.py)."""

from kdc import kerberos_env, kerberos_realm

__all__ = ["kerberos_env", "kerberos_realm"]
