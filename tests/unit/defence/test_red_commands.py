"""The red cell's observed commands, pure: the jumpbox's lines read, anything else ignored, and
the team and service a command names by its game address."""

from __future__ import annotations

from range_control.orchestrator.docker.access import session_lines
from range_control.services.redcell.commands import MAX_COMMAND, named_target, parse

SERVICES = ["convoy-tracker", "message-hub"]


def test_a_command_line_is_read_and_anything_else_is_not() -> None:
    assert parse("range-command red12 1765100000 nmap -sV 10.60.3.2") == (
        12,
        1765100000,
        "nmap -sV 10.60.3.2",
    )
    assert parse("range-command red12 1765100000 " + "x" * 5000) == (
        12,
        1765100000,
        "x" * MAX_COMMAND,
    )
    for other in (
        "Accepted password for red12 from 172.18.0.1",
        "range-command team 1765100000 id",  # not a person's login
        "range-command red12 soon id",
        "range-command red12 1765100000",
        "prefix range-command red12 1765100000 id",
    ):
        assert parse(other) is None, other
    out = b"Server listening on 0.0.0.0 port 2222.\nrange-command red3 1 id\r\nrange-command red3 2 ls\n"
    assert [parse(ln) for ln in session_lines(out)] == [(3, 1, "id"), (3, 2, "ls")]


def test_the_team_and_service_a_command_names() -> None:
    subnet = "10.60.0.0/16"
    assert named_target("curl http://10.60.3.2:8080/", subnet, SERVICES) == (3, "message-hub")
    assert named_target("nc 10.60.14.1 8080", subnet, SERVICES) == (14, "convoy-tracker")
    # The first game address named wins; other addresses are nobody's.
    assert named_target("ssh 172.18.0.5; nc 10.60.2.1 80", subnet, SERVICES) == (
        2,
        "convoy-tracker",
    )
    for nobody in (
        "nmap 10.60.0.0/16",  # the subnet itself: team 0
        "nc 10.60.3.3 80",  # no third service
        "nc 10.60.3.0 80",
        "ping 10.61.3.1",  # outside the game subnet
        "echo 110.60.3.1",  # not an address of it (digits before)
        "echo 10.60.3.1.5",  # nor this
        "echo 10.60.300.1",  # not an address
        "ls -la",
    ):
        assert named_target(nobody, subnet, SERVICES) is None, nobody
