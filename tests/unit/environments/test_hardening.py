"""The isolation contract is written once (``orchestrator.hardening``) and every container the
engines start goes through it: services, entry points, jobs, helpers; Docker and the Swarm."""

from __future__ import annotations

import ast

import pytest

from range_control.orchestrator import hardening
from tests.support import REPO

ENGINES = REPO / "range_control" / "orchestrator"


def test_the_docker_contract_drops_everything_and_limits_everything() -> None:
    limits = hardening.Limits(
        memory=64 * 2**20,
        cpus=0.5,
        pids=32,
        cap_add=("NET_BIND_SERVICE",),
        tmpfs={"/scratch": "size=8m"},
    )
    config = hardening.docker_host_config(limits, port_bindings={80: ("127.0.0.1", 20001)})
    assert config["cap_drop"] == ["ALL"] and config["cap_add"] == ["NET_BIND_SERVICE"]
    assert config["security_opt"] == ["no-new-privileges:true"]
    assert config["privileged"] is False and config["init"] is True
    assert config["read_only"] is True and config["tmpfs"] == {"/scratch": "size=8m"}
    assert config["mem_limit"] == config["memswap_limit"] == 64 * 2**20
    assert config["nano_cpus"] == 500_000_000 and config["pids_limit"] == 32
    assert config["log_config"] == {
        "type": "json-file",
        "config": {"max-size": "1m", "max-file": "2"},
    }
    assert config["port_bindings"] == {80: ("127.0.0.1", 20001)}


@pytest.mark.parametrize(
    "extra", [{"privileged": True}, {"binds": ["/:/host"]}, {"volumes_from": ["x"]}]
)
def test_no_caller_can_add_privilege_or_a_host_path(extra: dict) -> None:
    with pytest.raises(ValueError, match="no privileged mode and no host path"):
        hardening.docker_host_config(hardening.JOB, **extra)


def test_the_swarm_contract_is_the_same_contract() -> None:
    task = hardening.swarm_task(hardening.JUMPBOX)
    assert task.container["cap_drop"] == ["ALL"] and task.container["init"] is True
    assert set(task.container["cap_add"]) == set(hardening.JUMPBOX.cap_add)
    assert task.memory == hardening.JUMPBOX.memory and task.pids == hardening.JUMPBOX.pids
    assert task.nano_cpus == 500_000_000 and task.log == hardening.LOG_MAX
    assert hardening.tmpfs_bytes("size=32m,mode=1777") == 32 * 2**20
    assert hardening.tmpfs_bytes("mode=1777") is None


def _calls(name: str, package: str) -> list[tuple[str, int, ast.Call]]:
    found = []
    for path in sorted((ENGINES / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                called = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if called == name:
                    found.append((path.name, node.lineno, node))
    return found


def test_every_docker_container_is_created_under_the_contract() -> None:
    """Each ``create_host_config`` of the Docker engine takes the contract's arguments."""
    calls = _calls("create_host_config", "docker")
    assert len(calls) >= 5  # services, flag helper, jumpbox, gateway, jobs
    for where, line, call in calls:
        spread = [k.value for k in call.keywords if k.arg is None]
        assert len(spread) == 1 and "docker_host_config" in ast.unparse(spread[0]), (where, line)


def test_every_swarm_task_is_made_under_the_contract() -> None:
    """The Swarm's ContainerSpec and TaskTemplate are made in one place (``task_template``)."""
    for name in ("ContainerSpec", "TaskTemplate", "Resources"):
        where = {w for w, _line, _call in _calls(name, "swarm")}
        assert where == {"common.py"}, (name, where)
