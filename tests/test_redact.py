"""Secrets never reach a log line: the Redactor, the logging filter, secrets_of and the CLI."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from monitor.apprise_plugins import plugin_class
from monitor.config import NotifySettings
from monitor.notify import load_targets
from monitor.secrets import (
    RedactingFilter,
    Redactor,
    active,
    install,
    mask_url,
    secrets_of,
    uninstall,
)
from tests.conftest import CliResult

TGRAM = "tgram://123456789:AAFakeSecretToken/987654321"
MAIL = "mailtos://amina:hunter2pass@gmail.com?to=amina@gmail.com"
JSON = "json://127.0.0.1:8765/bot123456789:AAFakeSecretToken/sendMessage"
NTFY = "ntfys://ntfy.sh/private-topic-4711"
NTFY_TOKEN = "ntfys://ntfy.sh/alerts?token=tk_AbCdEf123456"

# url → the secrets it holds, and parts that are not secret (must stay readable)
CASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    TGRAM: (("AAFakeSecretToken", "123456789:AAFakeSecretToken", "987654321"), ("tgram",)),
    MAIL: (("hunter2pass",), ("gmail.com", "amina")),
    JSON: (("AAFakeSecretToken", "bot123456789:AAFakeSecretToken"), ("127.0.0.1:8765",)),
    NTFY: (("private-topic-4711",), ("ntfy.sh",)),
    NTFY_TOKEN: (("tk_AbCdEf123456",), ("ntfy.sh", "alerts")),
}


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    yield
    uninstall()


def logger_to(stream: io.StringIO, name: str, redactor: Redactor) -> logging.Logger:
    """A logger of its own with one handler that carries the filter."""
    logger = logging.getLogger(f"test_redact.{name}")
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter(redactor))
    logger.addHandler(handler)
    return logger


# ── secrets_of ──────────────────────────────────────────────────────────────


@pytest.mark.parametrize("url", list(CASES))
def test_secrets_of(url: str) -> None:
    secrets, public = CASES[url]
    found = secrets_of(url)
    assert found[0] == url
    for secret in secrets:
        assert secret in found, (secret, found)
    for part in public:
        assert part not in found, (part, found)


@pytest.mark.parametrize("url", list(CASES))
def test_masked_forms_never_contain_a_secret(url: str) -> None:
    secrets, _ = CASES[url]
    (target,) = load_targets(NotifySettings.model_validate({"urls": [url]}))
    shown = [target.masked, repr(target), Redactor(secrets_of(url))(f"posting to {url}")]
    for text in shown:
        for secret in secrets:
            assert secret not in text, (secret, text)
    assert "****" in target.masked or "..." in target.masked


def test_secrets_of_decoded_and_encoded_forms() -> None:
    found = secrets_of("mailtos://amina:p%40ssw0rd1@gmail.com")
    assert "p@ssw0rd1" in found and "p%40ssw0rd1" in found
    assert "123456789%3AAAFakeSecretToken" in secrets_of(TGRAM)


def test_secrets_of_sensitive_query_keys_and_plain_words() -> None:
    found = secrets_of("json://example.org/hook?password=simple&method=POST&to=someone")
    assert "simple" in found
    assert "POST" not in found and "someone" not in found and "hook" not in found


# ── Redactor ────────────────────────────────────────────────────────────────


def test_redactor_replaces_secrets_and_masks_whole_urls() -> None:
    redactor = Redactor(secrets_of(TGRAM))
    text = redactor(f"sending to {TGRAM} with token 123456789:AAFakeSecretToken; chat 987654321")
    assert text == f"sending to {mask_url(TGRAM)} with token ****; chat ****"
    assert "AAFakeSecretToken" not in text


def test_redactor_basics() -> None:
    redactor = Redactor()
    assert redactor("nothing known yet hunter2pass") == "nothing known yet hunter2pass"
    redactor.add("hunter2pass", "ab", "")  # too-short strings are ignored
    assert len(redactor) == 1
    assert redactor("pw=hunter2pass, ab") == "pw=****, ab"
    assert "hunter2pass" not in repr(redactor)
    redactor.add("hunter2pass")  # twice is harmless
    assert redactor(redactor("hunter2pass")) == "****"


def test_redactor_longest_secret_first() -> None:
    redactor = Redactor(["AAFake", "AAFakeSecretToken"])
    assert redactor("x AAFakeSecretToken y AAFake") == "x **** y ****"


# ── logging ─────────────────────────────────────────────────────────────────


def test_filter_redacts_message_args_and_exception() -> None:
    stream = io.StringIO()
    log = logger_to(stream, "args", Redactor(secrets_of(TGRAM)))
    log.info("token %s for %r", "123456789:AAFakeSecretToken", {"url": TGRAM})
    try:
        raise ValueError(f"bad answer from {TGRAM}")
    except ValueError:
        log.exception("send failed (%s)", "AAFakeSecretToken")
    log.warning("stack", stack_info=True, extra={})
    out = stream.getvalue()
    assert "AAFakeSecretToken" not in out and "987654321" not in out
    assert "token **** for {'url': 'tgram://" in out
    assert "ValueError: bad answer from tgram://1...n/****21" in out
    assert "send failed (****)" in out


def test_filter_copes_with_bad_format_arguments() -> None:
    stream = io.StringIO()
    log = logger_to(stream, "bad", Redactor(["hunter2pass"]))
    log.warning("two %s %s", "hunter2pass")  # one argument missing
    assert "hunter2pass" not in stream.getvalue() and "two %s %s" in stream.getvalue()


def test_apprise_warning_with_the_url_is_masked() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install(Redactor(secrets_of(TGRAM)))
        logging.getLogger("apprise").warning("Failed to send to %s: error=401.", TGRAM)
    finally:
        root.removeHandler(handler)
    assert stream.getvalue() == f"Failed to send to {mask_url(TGRAM)}: error=401.\n"


def test_install_covers_existing_and_future_handlers() -> None:
    root = logging.getLogger()
    before, after = io.StringIO(), io.StringIO()
    early = logging.StreamHandler(before)
    root.addHandler(early)
    late = logging.StreamHandler(after)
    try:
        install(Redactor(["hunter2pass"]))
        install(Redactor(["AAFakeSecretToken"]))  # a reload: old secrets stay hidden
        assert sum(isinstance(f, RedactingFilter) for f in early.filters) == 1
        root.addHandler(late)  # added after install: the record factory covers it
        logging.getLogger("urllib3.connectionpool").warning(
            '"POST /bot%s/sendMessage HTTP/1.1" 500', "AAFakeSecretToken hunter2pass"
        )
    finally:
        root.removeHandler(early)
        root.removeHandler(late)
    for stream in (before, after):
        assert stream.getvalue() == '"POST /bot**** ****/sendMessage HTTP/1.1" 500\n'
    assert active()("hunter2pass") == "****"


def test_uninstall_restores_plain_logging() -> None:
    install(Redactor(["hunter2pass"]))
    uninstall()
    record = logging.getLogger("x").makeRecord("x", logging.INFO, "f", 1, "%s", ("a",), None)
    assert record.args == ("a",)
    assert active()("hunter2pass") == "hunter2pass"


# ── apprise's logger while URLs are masked ─────────────────────────────────


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_masking_in_one_thread_keeps_apprise_quiet_there_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While one thread masks a URL (apprise parses it and may quote it in its log), a
    delivery thread's apprise lines, which say why a send failed, still get through."""
    inside, release = threading.Event(), threading.Event()
    # The Telegram plugin's own URL parser: every way of building the plugin runs it.
    telegram = plugin_class("tgram")
    real = telegram.parse_url

    def parsing(url: str, *args: object, **kwargs: object) -> object:
        logging.getLogger("apprise").warning("parsing %s", url)
        inside.set()
        release.wait(10)
        return real(url, *args, **kwargs)

    monkeypatch.setattr(telegram, "parse_url", staticmethod(parsing))
    seen = _Lines()
    logger = logging.getLogger("apprise")
    logger.addHandler(seen)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    masked: list[str] = []
    masker = threading.Thread(target=lambda: masked.append(mask_url(TGRAM)))
    try:
        masker.start()
        assert inside.wait(10)
        logger.warning("Failed to send Telegram notification: error=500")
        release.set()
        masker.join(10)
    finally:
        release.set()
        logger.removeHandler(seen)
        logger.setLevel(level)
    assert seen.lines == ["Failed to send Telegram notification: error=500"]
    assert masked == [mask_url(TGRAM)]
    assert "AAFakeSecretToken" not in masked[0]


# ── the command line ────────────────────────────────────────────────────────


def test_cli_installs_redaction_and_redacts_unexpected_errors(
    cli: Callable[..., CliResult],
    write_config: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write_config(
        [{"name": "R", "url": "http://127.0.0.1:9/booking/create/29396", "calendars": ["3.1"]}],
        notify={"urls": [TGRAM]},
    )

    async def crash(*args: object, **kwargs: object) -> AsyncIterator[None]:
        logging.getLogger("somelib").error("while posting to %s", TGRAM)
        raise RuntimeError(f"bug near {TGRAM} (token 123456789:AAFakeSecretToken)")
        yield  # an async generator, as check_stream is

    monkeypatch.setattr("monitor.check.check_stream", crash)
    result = cli("check", "-c", str(path))
    assert result.code == 1
    assert "unexpected error (RuntimeError: bug near tgram://1...n/****21 (token ****))" in (
        result.err
    )
    assert "AAFakeSecretToken" not in result.out + result.err
    assert active()(TGRAM) == mask_url(TGRAM)
