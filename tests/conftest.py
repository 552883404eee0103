"""Shared fixtures: the throwaway Kerberos realm (tests/kdc.py) and a private vhost (tests/broker.py)."""

from broker import vhost
from kdc import kerberos_env, kerberos_realm

__all__ = ["kerberos_env", "kerberos_realm", "vhost"]
