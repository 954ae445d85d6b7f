"""``rdv-monitor demo --notify URL`` (issue 10, item 11): a mistake in the URL is told
about that URL, as the user typed it (masked), never about the demo's temporary file."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import CliResult


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("tgram://secretvalue", "not a complete Telegram address"),
        ("foo://bob:hunter2-secret@example.org", '"foo://" is not a notification service'),
        ("just-a-word", 'must start with the service name and "://"'),
    ],
)
def test_a_bad_notify_url_is_named_as_the_user_gave_it(
    cli: Callable[..., CliResult], url: str, shown: str
) -> None:
    result = cli("demo", "--notify", "json://127.0.0.1:9/fine", "--notify", url)

    assert result.code == 2
    assert result.err.startswith("rdv-monitor: --notify")
    assert shown in result.err
    for leak in ("demo.toml", "/tmp", "item 2", "item 3", "secret", "hunter2"):
        assert leak not in result.err
    assert result.out == ""  # refused before the demo starts its story
