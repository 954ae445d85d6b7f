"""The systemd notify protocol, against real AF_UNIX datagram sockets."""

from __future__ import annotations

import os
import socket
import uuid

from monitor.sdnotify import Notifier, watchdog_interval


def receive(sock: socket.socket) -> str:
    sock.settimeout(2)
    return sock.recv(4096).decode()


def test_path_socket_receives_ready_status_watchdog_stopping(tmp_path):
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        notifier = Notifier({"NOTIFY_SOCKET": path})
        assert notifier.ready("watching 4 calendars")
        assert receive(server) == "READY=1\nSTATUS=watching 4 calendars"
        notifier.status("3.2 available\nsince 08:00")
        assert receive(server) == "STATUS=3.2 available since 08:00"
        notifier.watchdog()
        assert receive(server) == "WATCHDOG=1"
        notifier.stopping()
        assert receive(server) == "STOPPING=1"
        notifier.close()


def test_abstract_namespace_socket():
    name = f"rdv-monitor-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(b"\0" + name.encode())
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.ready()
        assert receive(server) == "READY=1"
        notifier.close()


def test_without_notify_socket_nothing_happens():
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False


def test_a_vanished_socket_does_not_raise(tmp_path):
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert notifier.status("x") is False


def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process():
    assert watchdog_interval({"WATCHDOG_USEC": "60000000"}) == 30.0
    own = {"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval(own) == 5.0
    assert watchdog_interval({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
