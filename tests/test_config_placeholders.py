"""Placeholder notification targets are refused (issue 10, item 2).

``cp config.example.toml config.toml && rdv-monitor validate -c config.toml``
must not say OK while the file still holds the example's made-up addresses:
every alert would go nowhere. The example's values are read from the example
itself, so this test follows it when it changes.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config.example.toml"
WATCH = '[[watch]]\nname = "R"\nurl = "https://www.haute-savoie.gouv.fr/booking/create/29396"\n'


def example_targets() -> list[str]:
    """Every notification address the example shows, commented out or not."""
    text = EXAMPLE.read_text(encoding="utf-8")
    found = re.findall(r'"([a-z]+s?://[^"]+)"', text)
    return [u for u in found if not u.startswith(("http://", "https://")) and "…" not in u]


def write(tmp_path: Path, urls: list[str]) -> Path:
    path = tmp_path / "config.toml"
    listed = ", ".join(f'"{u}"' for u in urls)
    path.write_text(f"[notify]\nurls = [{listed}]\n{WATCH}", encoding="utf-8")
    path.chmod(0o600)
    return path


def test_the_example_shows_targets_to_check() -> None:
    assert len(example_targets()) >= 3


def test_the_example_copied_unchanged_fails_validate_and_run(tmp_path: Path, cli) -> None:
    copy = tmp_path / "config.toml"
    shutil.copy(EXAMPLE, copy)
    copy.chmod(0o600)
    for command in ("validate", "run"):
        result = cli(command, "-c", str(copy))
        assert result.code == 2, command
        assert "placeholder" in result.err and "replace it with your own" in result.err
        assert "[notify] urls, item 1" in result.err
        assert "OK" not in result.out


@pytest.mark.parametrize("url", example_targets())
def test_each_address_of_the_example_is_a_placeholder(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="placeholder"):
        load_config(write(tmp_path, [url]))


@pytest.mark.parametrize(
    "url",
    [
        "tgram://BOT_TOKEN/CHAT_ID",
        "tgram://123456789:ABCdefGHIjklMNOpqr/42",
        "tgram://xxx/yyy",
        "json://example.com/hook",
        "ntfys://ntfy.sh/example",
        "tgram://<bot token>/<chat id>",
        "mailtos://you:app-password@gmail.com",
    ],
)
def test_obvious_placeholders_are_refused_with_the_fix(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, [url]))
    message = str(caught.value)
    assert "placeholder" in message and "replace it with your own values" in message


def test_every_placeholder_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, ["tgram://BOT_TOKEN/CHAT_ID", "json://example.com/x"]))
    message = str(caught.value)
    assert "item 1" in message and "item 2" in message


def test_real_looking_targets_pass(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            [
                "tgram://987654321:AAsecretBotToken4711/123123123",
                "ntfys://ntfy.sh/rdv-amina-4711",
                "json://127.0.0.1:8080/hook",
            ],
        )
    )
    assert len(config.notify.urls) == 3


# --------------------------------------------------------------------------- issue 10, item 15


def test_a_quoted_boolean_is_refused_like_maybe(tmp_path: Path) -> None:
    for value in ('"yes"', '"true"', '"maybe"'):
        path = tmp_path / "config.toml"
        path.write_text(f"{WATCH}enabled = {value}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="expected true or false"):
            load_config(path)


def test_a_state_dir_that_cannot_be_created_is_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    path = tmp_path / "config.toml"
    path.write_text(f'[monitor]\nstate_dir = "{blocker}/state"\n{WATCH}', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "[monitor] state_dir" in str(caught.value) and "is a file" in str(caught.value)


def test_validate_prints_the_world_readable_warning_once(tmp_path: Path, cli) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[notify]\nurls = []\n{WATCH}", encoding="utf-8")
    path.chmod(0o644)
    result = cli("validate", "-c", str(path))
    assert result.code == 0
    assert (result.out + result.err).count("can be read by other users") == 1


def test_surge_windows_slower_than_the_base_interval_are_not_listed_as_faster(
    tmp_path: Path, cli
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[monitor]\ninterval = "1m"\n[[monitor.surge]]\ndays = ["mon"]\nstart = "08:00"\n'
        f'end = "09:00"\ninterval = "5m"\n{WATCH}',
        encoding="utf-8",
    )
    path.chmod(0o600)
    result = cli("validate", "-c", str(path))
    assert result.code == 0
    assert "Faster checks" not in result.out
    assert "not faster than every 1m" in result.out
