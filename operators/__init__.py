"""Rx operators for monitoring pipelines and alarm logic."""
