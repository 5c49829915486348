"""Environments: which team instances should exist, the reconciler's pass that makes them real,
host ports, team access (SSH keys, WireGuard), the engine and its machines."""
