"""The Swarm backend's pure helpers: service names within Swarm's limit, tmpfs sizes."""

from __future__ import annotations

from range_control.orchestrator.hardening import tmpfs_bytes
from range_control.orchestrator.swarm.common import service_name
from range_control.orchestrator.types import MAX_NAME


def test_service_names_fit_swarms_limit_and_stay_distinct() -> None:
    short = "rc-ice-t1-web-app"
    assert service_name(short) == short
    long_a = "rc-" + "e" * 31 + "-t12-" + "c" * 63 + "-portal"
    long_b = long_a.replace("portal", "worker")
    a, b = service_name(long_a), service_name(long_b)
    assert len(a) <= MAX_NAME and len(b) <= MAX_NAME and a != b
    assert service_name(long_a) == a  # stable


def test_tmpfs_sizes_as_docker_reads_them() -> None:
    assert tmpfs_bytes("size=16m") == 16 * 2**20
    assert tmpfs_bytes("mode=1777,size=2g") == 2 * 2**30
    assert tmpfs_bytes("size=4096") == 4096
    assert tmpfs_bytes("mode=1777") is None
