"""Notification targets: loading, routing, sending one target at a time, failure reasons.

Every target is a local receiver (tests/receiver.py) or a refused port on
127.0.0.1; nothing here touches the internet.
"""

from __future__ import annotations

import copy
import logging
import pickle
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.config import NotifySettings
from monitor.errors import ConfigError
from monitor.notify import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    SendResult,
    Target,
    load_targets,
    send,
    send_all,
    targets_for,
)
from monitor.secrets import Redactor, install, mask_url, uninstall
from tests.conftest import CliResult
from tests.receiver import ClosedPort, LocalTarget, refuse

TOKEN = "123456789:AAFakeSecretToken"
SECRETS = ("AAFakeSecretToken", "123456789")
WATCH = {"name": "R", "url": "http://127.0.0.1:9/booking/create/29396", "calendars": ["3.1"]}


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, (secret, text)


def settings(*urls: str | dict[str, object], config: Path | None = None) -> NotifySettings:
    return NotifySettings.model_validate({"urls": list(urls), "config": config})


@pytest.fixture(autouse=True)
def _fresh_redactor() -> Iterator[None]:
    """load_targets and the CLI register secrets process-wide; start each test clean."""
    yield
    uninstall()


@pytest.fixture
def receiver() -> Iterator[LocalTarget]:
    with LocalTarget() as target:
        yield target


def one(url: str) -> Target:
    (target,) = load_targets(settings(url))
    return target


# ── loading ─────────────────────────────────────────────────────────────────


def test_load_targets_from_urls(receiver: LocalTarget) -> None:
    targets = load_targets(
        settings(
            receiver.url,
            {"url": receiver.url_with_secret(TOKEN), "tags": ["phone", "Family"]},
        )
    )
    assert [t.tags for t in targets] == [frozenset(), frozenset({"phone", "family"})]
    assert targets[0].masked == f"json://127.0.0.1:{receiver.port}/hook"
    assert targets[1].service == "JSON"
    for target in targets:
        assert re.fullmatch(r"[0-9a-f]{16}", target.id)
        assert_no_secret(target.masked + repr(target) + str(target))
    assert targets[0].id != targets[1].id
    # stable: the id is a database key for per-target delivery state
    assert [t.id for t in load_targets(settings(receiver.url))] == [targets[0].id]


def test_same_url_twice_is_one_target_with_both_tags(receiver: LocalTarget) -> None:
    targets = load_targets(
        settings({"url": receiver.url, "tags": ["a"]}, {"url": receiver.url, "tags": ["b"]})
    )
    assert len(targets) == 1 and targets[0].tags == {"a", "b"}


def test_target_keeps_its_secrets_private(receiver: LocalTarget) -> None:
    target = one(receiver.url_with_secret(TOKEN))
    assert_no_secret(repr(target) + str(target) + target.masked)
    assert any("AAFakeSecretToken" in s for s in target.secrets())
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(target)
    assert copy.deepcopy(target) is target
    # equality and hashing use the public fields only
    assert target == Target(target.id, target.masked, target.tags, target.service)


def test_load_targets_from_apprise_yaml_config(tmp_path: Path, receiver: LocalTarget) -> None:
    path = tmp_path / "apprise.yml"
    path.write_text(
        "urls:\n"
        f"  - {receiver.url_with_secret(TOKEN)}:\n"
        "      tag: phone, family\n"
        f"  - {receiver.url}\n",
        encoding="utf-8",
    )
    other = LocalTarget().start()
    try:
        targets = load_targets(settings({"url": other.url, "tags": ["desk"]}, config=path))
    finally:
        other.close()
    assert [sorted(t.tags) for t in targets] == [["desk"], ["family", "phone"], []]
    for target in targets:
        assert_no_secret(target.masked + repr(target))
    assert f"127.0.0.1:{receiver.port}" in targets[1].masked


def test_load_targets_from_apprise_text_config(tmp_path: Path, receiver: LocalTarget) -> None:
    path = tmp_path / "apprise.txt"
    path.write_text(f"phone={receiver.url}\n{receiver.url_with_secret(TOKEN)}\n", encoding="utf-8")
    targets = load_targets(settings(config=path))
    assert [t.tags for t in targets] == [frozenset({"phone"}), frozenset()]


@pytest.mark.parametrize(
    "text",
    [
        "urls:\n  - tgram://AAFakeSecretToken/987654321\n",  # apprise rejects the bot token
        "urls: [[[\n",
        "just some words AAFakeSecretToken\n",
        "urls: []\n",
    ],
)
def test_bad_apprise_config_is_a_config_error_without_secrets(tmp_path: Path, text: str) -> None:
    path = tmp_path / "apprise.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_targets(settings(config=path))
    assert "[notify] config" in str(info.value)
    assert_no_secret(str(info.value))


def test_missing_apprise_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_targets(settings(config=tmp_path / "nope.yml"))


def test_loading_keeps_apprise_messages_out_of_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "apprise.yml"
    path.write_text("urls:\n  - tgram://AAFakeSecretToken/987654321\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_targets(settings(config=path))
    assert_no_secret(caplog.text)


def test_timeouts_are_capped_and_shorter_ones_kept(receiver: LocalTarget) -> None:
    assert one(receiver.url).timeouts == (CONNECT_TIMEOUT, READ_TIMEOUT)
    assert one(receiver.url + "?rto=0.5&cto=1").timeouts == (1.0, 0.5)
    assert one(receiver.url + "?rto=60&cto=30").timeouts == (CONNECT_TIMEOUT, READ_TIMEOUT)
    # SMTP uses its "connect" time-out for every step: it gets the longer cap
    assert one("mailtos://amina:hunter2pass@gmail.com").timeouts == (READ_TIMEOUT, READ_TIMEOUT)


# ── routing ─────────────────────────────────────────────────────────────────


def test_routing_by_tags() -> None:
    phone = Target("a" * 16, "json://x/1", frozenset({"phone"}))
    family = Target("b" * 16, "json://x/2", frozenset({"family", "phone"}))
    plain = Target("c" * 16, "json://x/3")
    everyone = [phone, family, plain]
    assert targets_for(everyone, []) == everyone
    assert targets_for(everyone, ["phone"]) == [phone, family]
    assert targets_for(everyone, ["FAMILY"]) == [family]
    assert targets_for(everyone, ["nobody", "family"]) == [family]
    assert targets_for(everyone, ["nobody"]) == []


# ── sending ─────────────────────────────────────────────────────────────────


def test_send_ok(receiver: LocalTarget) -> None:
    result = send(one(receiver.url_with_secret(TOKEN)), "Créneau libre", "3.2 : jeudi 09:30")
    assert result == SendResult(True, None)
    assert receiver.wait_for(1)
    (message,) = receiver.messages
    assert message["title"] == "Créneau libre"
    assert message["message"] == "3.2 : jeudi 09:30"
    assert receiver.paths == [f"/bot{TOKEN}/sendMessage"]


def test_http_500_reason(receiver: LocalTarget) -> None:
    receiver.fail_next(1, status=500)
    result = send(one(receiver.url_with_secret(TOKEN)), "t", "b")
    assert not result.ok and result.reason
    assert result.reason.startswith("HTTP 500")
    assert f"127.0.0.1:{receiver.port}" in result.reason
    assert "\n" not in result.reason
    assert_no_secret(result.reason)
    # the next send goes through: a failure leaves no state behind
    assert send(one(receiver.url), "t", "b").ok


def test_connection_refused_reason() -> None:
    with refuse() as port:
        started = time.monotonic()
        result = send(one(port.url_with_secret(TOKEN)), "t", "b")
    assert not result.ok and result.reason
    assert result.reason == f"connection refused by 127.0.0.1:{port.port}"
    assert time.monotonic() - started < 2


def test_timeout_reason(receiver: LocalTarget) -> None:
    receiver.delay = 3.0
    started = time.monotonic()
    result = send(one(receiver.url_with_secret(TOKEN, query="rto=0.5")), "t", "b")
    elapsed = time.monotonic() - started
    assert not result.ok and result.reason
    assert "timed out" in result.reason and f"127.0.0.1:{receiver.port}" in result.reason
    assert_no_secret(result.reason)
    assert elapsed < 2.5


def test_parallel_sends_keep_their_own_reasons() -> None:
    with LocalTarget() as a, LocalTarget() as b, ClosedPort() as c, LocalTarget() as d:
        for receiver in (a, b):
            receiver.delay = 0.3  # make the sends overlap
        targets = [
            one(a.url_with_secret(TOKEN)),
            one(b.url),
            one(c.url_with_secret(TOKEN)),
            one(d.url),
        ]
        for _round in range(3):
            a.fail_next(1, status=503)
            b.fail_next(1, status=500)
            results = dict(send_all(targets, "t", "b"))
            reasons = [results[t].reason or "" for t in targets]
            assert reasons[0].startswith("HTTP 503") and f":{a.port}" in reasons[0]
            assert reasons[1].startswith("HTTP 500") and f":{b.port}" in reasons[1]
            assert reasons[2] == f"connection refused by 127.0.0.1:{c.port}"
            assert results[targets[3]] == SendResult(True, None)
            assert_no_secret(" ".join(reasons))


def test_threads_sending_at_once_do_not_mix_reasons() -> None:
    """The daemon calls send() from asyncio.to_thread: plain threads, not send_all."""
    with LocalTarget() as a, LocalTarget() as b:
        a.delay = b.delay = 0.2
        a.fail_next(5, status=502)
        ta, tb = one(a.url), one(b.url)
        results: dict[str, SendResult] = {}

        def run(name: str, target: Target) -> None:
            results[name] = send(target, "t", "b")

        threads = [threading.Thread(target=run, args=(f"a{i}", ta)) for i in range(3)]
        threads += [threading.Thread(target=run, args=(f"b{i}", tb)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for name, result in results.items():
        if name.startswith("a"):
            assert result.reason and result.reason.startswith("HTTP 502"), result
        else:
            assert result == SendResult(True, None)


# Two apprise plugins of the tests' own, registered through apprise's public plugin API
# (the ``@notify`` decorator, ``NotificationManager.add``) and removed after the test:
# they post over real HTTP to a local receiver, and fail as the scenario needs.
# What send() does with their failures is what the tests check; nothing is patched.


@pytest.fixture
def shared_logger_scheme() -> Iterator[tuple[str, threading.Barrier]]:
    """A ``rdvshared://127.0.0.1:PORT/PATH`` apprise service that POSTs to the receiver
    at PORT and, when it answers an error, says so only through the shared ``apprise``
    logger (as apprise's module-level code does), naming the path it posted to.

    Each send waits at the barrier before and after logging, so the sends of a test
    are all inside apprise when each one logs and none has returned yet."""
    from apprise import NotificationManager
    from apprise.decorators import notify

    together = threading.Barrier(3, timeout=5)

    @notify(on="rdvshared", name="Shared logger")
    def post(body: str, title: str, notify_type: str, meta: dict[str, Any], **kw: Any) -> bool:
        url = f"http://{meta['host']}:{meta['port']}{meta['fullpath']}"
        request = urllib.request.Request(url, data=b"{}", method="POST")
        status = 200
        try:
            with urllib.request.urlopen(request, timeout=5):
                pass
        except urllib.error.HTTPError as exc:
            status = exc.code
        together.wait()
        if status >= 300:
            # apprise's own wording: "Failed to send X notification: <detail>, error=NNN."
            logging.getLogger("apprise").warning(
                "Failed to send notification: last word from %s, error=%d.",
                meta["fullpath"].strip("/"),
                status,
            )
        together.wait()
        return status < 300

    yield "rdvshared", together
    NotificationManager().remove("rdvshared")


@pytest.fixture
def buggy_scheme() -> Iterator[str]:
    """A ``rdvbuggy://HOST:PORT/PATH`` apprise service with a bug: when the POST to
    ``http://HOST:PORT/PATH`` fails, it raises instead of returning False, and its
    exception quotes its URL, secrets included."""
    from apprise import NotificationManager, NotifyBase

    class BuggyPlugin(NotifyBase):
        service_name = "Buggy"
        protocol = "rdvbuggy"

        def url(self, *args: Any, **kwargs: Any) -> str:
            return f"{self.protocol}://{self.host}:{self.port}{self.fullpath}"

        def send(self, body: str, title: str = "", **kwargs: Any) -> bool:
            request = urllib.request.Request(
                f"http://{self.host}:{self.port}{self.fullpath}", data=b"{}", method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=5):
                    return True
            except OSError as exc:
                raise RuntimeError(f"plugin bug while posting to {self.url()}") from exc

        @staticmethod
        def parse_url(url: str) -> dict[str, Any] | None:
            return NotifyBase.parse_url(url, verify_host=False)

    manager = NotificationManager()
    assert manager.add(BuggyPlugin, schemas="rdvbuggy")
    yield "rdvbuggy"
    manager.remove("rdvbuggy")


def test_shared_apprise_logger_records_go_to_the_thread_that_sends(
    shared_logger_scheme: tuple[str, threading.Barrier],
) -> None:
    """Some apprise code logs through the shared ``apprise`` logger rather than the
    plugin's own: those records too are told apart by thread, not mixed."""
    scheme, together = shared_logger_scheme
    statuses = (500, 502, 503)
    with LocalTarget() as a, LocalTarget() as b, LocalTarget() as c:
        receivers = (a, b, c)
        for receiver, status in zip(receivers, statuses, strict=True):
            receiver.fail_next(1, status=status)
        names = ("alpha", "beta", "gamma")
        targets = [
            one(f"{scheme}://127.0.0.1:{r.port}/{name}")
            for name, r in zip(names, receivers, strict=True)
        ]
        results = [result for _, result in send_all(targets, "t", "b")]
        assert not together.broken  # the three sends were inside apprise at once
        assert [len(r.failed) for r in receivers] == [1, 1, 1]
    assert [r.reason for r in results] == [
        f"HTTP {status} (last word from {name}) from 127.0.0.1:{r.port}"
        for name, status, r in zip(names, statuses, receivers, strict=True)
    ]


def test_send_never_raises(buggy_scheme: str) -> None:
    assert send(Target("0" * 16, "json://x"), "t", "b") == SendResult(
        False, "no apprise service behind this target"
    )
    with ClosedPort() as closed:
        url = closed.url_with_secret(TOKEN).replace("json://", f"{buggy_scheme}://", 1)
        result = send(one(url), "t", "b")
    assert not result.ok and result.reason and "RuntimeError" in result.reason
    assert_no_secret(result.reason)
    assert mask_url(url) in result.reason


def test_an_empty_message_is_a_failure_with_a_reason(receiver: LocalTarget) -> None:
    result = send(one(receiver.url), "", "")
    assert not result.ok and result.reason and "body" in result.reason


def test_sending_keeps_apprise_records_out_of_the_log(
    receiver: LocalTarget, caplog: pytest.LogCaptureFixture
) -> None:
    """apprise logs request URLs at DEBUG: send() collects its records instead, whatever
    the level, and leaves the ``apprise`` logger's level alone."""
    apprise_logger = logging.getLogger("apprise")
    level = apprise_logger.level
    caplog.set_level(logging.DEBUG)
    receiver.fail_next(1)
    with ClosedPort() as closed:
        for url in (receiver.url_with_secret(TOKEN), closed.url_with_secret(TOKEN)):
            assert not send(one(url), "t", "b").ok
    assert not [r for r in caplog.records if r.name.startswith("apprise")]
    assert apprise_logger.level == level


def test_with_redaction_installed_no_log_line_shows_a_secret(
    receiver: LocalTarget, caplog: pytest.LogCaptureFixture
) -> None:
    """urllib3 logs request paths at DEBUG (-vv): the redaction the CLI installs hides the
    tokens in them."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")  # the CLI may have raised it
    target = one(receiver.url_with_secret(TOKEN))
    install(Redactor(target.secrets()))
    receiver.fail_next(1)
    assert not send(target, "t", "b").ok
    assert send(target, "t", "b").ok
    assert "POST /****" in caplog.text  # urllib3's request line, redacted
    assert_no_secret(caplog.text)


# ── rdv-monitor notify-test ─────────────────────────────────────────────────


@pytest.fixture
def notify_config(write_config: Callable[..., Path]) -> Callable[..., Path]:
    def write(*urls: str | dict[str, object], **notify: object) -> Path:
        return write_config([WATCH], notify={"urls": list(urls), **notify})

    return write


def test_notify_test_all_sent(
    cli: Callable[..., CliResult], notify_config: Callable[..., Path], receiver: LocalTarget
) -> None:
    with LocalTarget() as other:
        path = notify_config(receiver.url, {"url": other.url_with_secret(TOKEN), "tags": ["p"]})
        result = cli("notify-test", "-c", str(path))
        assert result.code == 0, result
        assert result.out.splitlines() == [
            f"✓ sent   json://127.0.0.1:{receiver.port}/hook",
            f"✓ sent   {mask_url(other.url_with_secret(TOKEN))}",
        ]
        assert other.wait_for(1) and receiver.wait_for(1)
    assert receiver.messages[0]["title"] == "rdv-monitor : message de test"  # [notify] language
    assert receiver.messages[0]["message"]
    assert_no_secret(result.out + result.err)


def test_notify_test_one_failing(
    cli: Callable[..., CliResult], notify_config: Callable[..., Path], receiver: LocalTarget
) -> None:
    with ClosedPort() as closed:
        result = cli(
            "notify-test",
            "-c",
            str(notify_config(receiver.url, closed.url_with_secret(TOKEN), language="en")),
        )
    assert result.code == 1, result
    ok, failed = result.out.splitlines()
    assert ok.startswith("✓ sent   json://127.0.0.1")
    assert failed.startswith("✗ failed json://127.0.0.1")
    assert failed.endswith(f" — connection refused by 127.0.0.1:{closed.port}")
    assert receiver.messages[0]["title"] == "rdv-monitor: test message"
    assert_no_secret(result.out + result.err)


def test_notify_test_by_tag(
    cli: Callable[..., CliResult], notify_config: Callable[..., Path], receiver: LocalTarget
) -> None:
    with ClosedPort() as closed:
        path = notify_config({"url": receiver.url, "tags": ["phone"]}, closed.url)
        result = cli("notify-test", "-c", str(path), "--tag", "phone")
    assert result.code == 0, result
    assert result.out.splitlines() == [f"✓ sent   {receiver.url}"]


def test_notify_test_without_targets_is_a_usage_error(
    cli: Callable[..., CliResult], notify_config: Callable[..., Path]
) -> None:
    result = cli("notify-test", "-c", str(notify_config()))
    assert result.code == 2
    assert "no notification target" in result.err and result.out == ""


def test_notify_test_unknown_tag_names_the_known_ones(
    cli: Callable[..., CliResult], notify_config: Callable[..., Path], receiver: LocalTarget
) -> None:
    path = notify_config({"url": receiver.url, "tags": ["phone", "family"]})
    result = cli("notify-test", "-c", str(path), "--tag", "tablet")
    assert result.code == 2
    assert "'tablet'" in result.err and "family, phone" in result.err
    assert receiver.messages == []


def test_notify_test_bad_apprise_config_is_a_masked_config_error(
    cli: Callable[..., CliResult], notify_config: Callable[..., Path], tmp_path: Path
) -> None:
    (tmp_path / "apprise.yml").write_text(
        "urls:\n  - tgram://AAFakeSecretToken/987654321\n", encoding="utf-8"
    )
    result = cli("notify-test", "-c", str(notify_config(config="apprise.yml")))
    assert result.code == 2
    assert "[notify] config" in result.err
    assert_no_secret(result.out + result.err)
