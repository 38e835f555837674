"""`--host` is checked as the server will bind it (annotate.web.check_host): every address its name resolves to, not
the first alone, so a host the app cannot listen on is one line before the workspace is read."""

from __future__ import annotations

import socket

import pytest

from annotate.__main__ import main
from annotate.web import check_host
from data.errors import PrefloopError

RESOLVE = socket.getaddrinfo


def resolving(monkeypatch, name, *addresses):
    """``name`` resolves to ``addresses``, in that order (a name with several A records, or an /etc/hosts line each)."""

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return RESOLVE(host, port, *args, **kwargs)
        return [info for address in addresses for info in RESOLVE(address, port, *args, **kwargs)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_whose_later_address_is_none_of_this_machines_is_one_line_before_anything_is_written(
    label_ws, capsys, monkeypatch
):
    """Only the first address was bound: a name resolving to this machine's address and then to one of another
    machine's (192.0.2.1: TEST-NET-1, never assigned) passed, and the launch failed on the second (uvicorn's
    "ERROR: ..." line, then ours, with the view's lock and the session key written)."""
    import annotate.app

    resolving(monkeypatch, "two.test", "127.0.0.1", "192.0.2.1")
    monkeypatch.setattr(annotate.app, "launch", lambda *args, **kwargs: pytest.fail("served"))
    before = sorted(p.relative_to(label_ws.path) for p in label_ws.path.rglob("*"))
    assert main(["-w", str(label_ws.path), "--demo-user", "--host", "two.test"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "error: --host two.test: cannot listen there (192.0.2.1: Cannot assign requested address: no address of "
        "this machine): give another --host\n"
    )
    assert sorted(p.relative_to(label_ws.path) for p in label_ws.path.rglob("*")) == before


def test_a_name_whose_addresses_are_all_this_machines_passes(monkeypatch):
    resolving(monkeypatch, "here.test", "127.0.0.1", "127.0.0.2")
    check_host("here.test")


@pytest.mark.parametrize("host", ["a..b", "x" * 64 + ".example"])
def test_a_name_no_resolver_takes_is_one_line(host):
    """A name with an empty label or one over 63 characters was a traceback (UnicodeError from the idna codec)."""
    with pytest.raises(
        PrefloopError, match=rf"^--host {host}: cannot listen there \(.*: give another --host$"
    ):
        check_host(host)


def test_an_address_of_a_family_without_sockets_here_is_passed_over_as_the_server_does(monkeypatch):
    """The server binds no socket of a family the machine has none of (IPv6 turned off: `localhost` is 127.0.0.1
    and ::1), and listens on the others; a name with no address left is refused."""
    make = socket.socket

    def no_ipv6(family=socket.AF_INET, *args, **kwargs):
        if family == socket.AF_INET6:
            raise OSError(97, "Address family not supported by protocol")
        return make(family, *args, **kwargs)

    monkeypatch.setattr(socket, "socket", no_ipv6)
    resolving(monkeypatch, "both.test", "::1", "127.0.0.1")
    check_host("both.test")
    resolving(monkeypatch, "six.test", "::1")
    with pytest.raises(
        PrefloopError, match=r"\(::1: Address family not supported by protocol: no address of this"
    ):
        check_host("six.test")


def test_a_port_in_use_on_a_later_address_is_one_line_before_anything_is_written(
    label_ws, capsys, monkeypatch
):
    """The host check bound each address on port 0: a port another program listens on at the name's second address
    was found only at launch (uvicorn binds every address), once the view's lock was taken (and, in a real launch,
    the session key written)."""
    import annotate.app

    with socket.socket() as other:  # another program listening on the name's second address
        other.bind(("127.0.0.2", 0))
        other.listen()
        port = other.getsockname()[1]
        resolving(monkeypatch, "two.test", "127.0.0.1", "127.0.0.2")
        monkeypatch.setattr(annotate.app, "launch", lambda *args, **kwargs: pytest.fail("served"))
        before = sorted(p.relative_to(label_ws.path) for p in label_ws.path.rglob("*"))
        args = ["-w", str(label_ws.path), "--demo-user", "--host", "two.test", "--port", str(port)]
        assert main(args) == 2
    assert capsys.readouterr() == (
        "",
        f"error: --host two.test --port {port}: cannot listen there (127.0.0.2: Address already in use): give "
        "another --port\n",
    )
    assert sorted(p.relative_to(label_ws.path) for p in label_ws.path.rglob("*")) == before


def test_a_port_an_app_just_stopped_on_is_free_to_the_check_and_the_check_leaves_it_free():
    """An app stopped a moment ago leaves its port in TIME_WAIT (a connection the server closed first): the check
    binds as the server does (SO_REUSEADDR), so a restart at once on that port is not refused; the check's own bind
    makes no connection, so it leaves nothing in TIME_WAIT for the launch after it."""
    with socket.socket() as server:  # the app that stopped
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            server.accept()[0].close()
            assert client.recv(1) == b""
    check_host("127.0.0.1", port)
    with socket.socket() as probe:  # the port is in TIME_WAIT: taken for a bind without SO_REUSEADDR
        probe.bind(("127.0.0.1", 0))
        fresh = probe.getsockname()[1]
    check_host("127.0.0.1", fresh)
    with socket.socket() as launch:  # nothing of the check's on it: even a bind without SO_REUSEADDR listens
        launch.bind(("127.0.0.1", fresh))
        launch.listen()
