"""Notification URLs hold tokens and passwords: they must never be printed in full."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config, mask_url
from monitor.errors import ConfigError
from monitor.report import describe_config

HS = "https://www.haute-savoie.gouv.fr/booking/create/29396"
WATCH = f'[[watch]]\nname = "R"\nurl = "{HS}"\ncalendars = ["3.1"]\n'
SECRETS = ("AAsuperSecretToken", "hunter2pass", "private-topic-4711", "987654321")

VALID_URLS = [
    "tgram://123456789:AAsuperSecretToken/987654321",
    "mailtos://amina:hunter2pass@gmail.com?to=amina@gmail.com",
    "ntfys://ntfy.sh/private-topic-4711",
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, (secret, text)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("tgram://123456789:AAsuperSecretToken/987654321", "tgram://1...n/****21"),
        ("mailtos://amina:hunter2pass@gmail.com?to=x@y.fr", "mailtos://amina:****@gmail.com"),
        ("ntfys://ntfy.sh/private-topic-4711", "ntfys://ntfy.sh/****11"),
        ("json://localhost:8080/hook", "json://localhost:8080/hook"),
        # not accepted by apprise: the generic masking applies
        ("telegram://123456789:AAsuperSecretToken/987654321", "telegram://****89:****en/****21"),
        (
            "foo://user:hunter2pass@example.org/abcdefgh?token=xyz",
            "foo://user:****@example.org/****gh",
        ),
        ("no scheme at all hunter2pass", "****"),
    ],
)
def test_mask_url(url: str, expected: str) -> None:
    masked = mask_url(url)
    assert masked.startswith(expected), masked
    assert_no_secret(masked)


def test_repr_and_str_hide_urls(tmp_path: Path) -> None:
    urls = ", ".join(f'"{u}"' for u in VALID_URLS)
    config = load_config(write(tmp_path, f"[notify]\nurls = [{urls}]\n" + WATCH))
    assert [t.url for t in config.notify.urls] == VALID_URLS  # the real URL stays usable
    for text in (repr(config), str(config), repr(config.notify), str(config.notify.urls[0])):
        assert_no_secret(text)
    assert "tgram://" in repr(config)
    assert_no_secret(describe_config(config))


@pytest.mark.parametrize(
    "bad",
    [
        "tgram://AAsuperSecretToken",
        "telegram://123456789:AAsuperSecretToken/987654321",
        "mailtos://amina:hunter2pass@",
        "https://private-topic-4711",
    ],
)
def test_errors_never_show_the_raw_url(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f'[notify]\nurls = ["{bad}"]\n' + WATCH))
    message = str(info.value)
    assert "[notify] urls, item 1:" in message
    assert_no_secret(message)


def test_toml_error_lines_are_masked(tmp_path: Path) -> None:
    text = '[notify]\nurls = ["tgram://123456789:AAsuperSecretToken/987654321]\n'
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert "line 2" in str(info.value)
    assert_no_secret(str(info.value))


def test_table_form_errors_are_masked(tmp_path: Path) -> None:
    text = '[notify]\nurls = [{ url = "tgram://AAsuperSecretToken", tags = ["x"] }]\n' + WATCH
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert "[notify] urls, item 1, url:" in str(info.value)
    assert_no_secret(str(info.value))


def test_apprise_does_not_log_secrets(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, '[notify]\nurls = ["tgram://AAsuperSecretToken"]\n' + WATCH))
    assert_no_secret(caplog.text)
