"""Loading and validating the config file: valid files, defaults, and every kind of mistake.

Each error must name the file, the key path and what is expected, report every
problem at once, and never show pydantic's jargon or a traceback.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import FrozenInstanceError
from datetime import time
from pathlib import Path

import pytest

from monitor import USER_AGENT
from monitor.config import (
    DEFAULT_EVENTS,
    POLITE_INTERVAL,
    CalendarRef,
    Config,
    ListenAddress,
    MonitorSettings,
    load_config,
    parse_config,
    parse_size,
    resolve_state_dir,
)
from monitor.errors import ConfigError, UsageError
from monitor.report import describe_config

REPO = Path(__file__).resolve().parents[1]
HS = "https://www.haute-savoie.gouv.fr/booking/create/29396"
SIM = "http://127.0.0.1:8080/booking/create/29396"
TOKEN = "123456789:AAsecretBotToken4711"

JARGON = (
    "pydantic",
    "errors.pydantic.dev",
    "Input should",
    "_type",
    "_parsing",
    "extra_forbidden",
    "Value error",
    "Traceback",
    "NoneType",
)

WATCH = f'[[watch]]\nname = "Renouvellement"\nurl = "{HS}"\ncalendars = ["3.1", "3.2"]\n'


def write(tmp_path: Path, text: str, name: str = "config.toml", mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert info.value.path == str(path)
    for word in JARGON:
        assert word not in message, (word, message)
    return message


# ----------------------------------------------------------------- valid files


def test_example_config_loads(tmp_path: Path) -> None:
    copy = tmp_path / "config.toml"
    example = (REPO / "config.example.toml").read_text(encoding="utf-8")
    # The example's placeholder target is refused (test_config_placeholders); with a
    # real one in its place, the rest of the example loads as it is.
    placeholder = re.search(r'^\s*"(tgram://[^"]*)"', example, re.M)
    assert placeholder is not None
    copy.write_text(example.replace(placeholder.group(1), f"tgram://{TOKEN}/987654321"))
    copy.chmod(0o600)
    config = load_config(copy)
    assert config.warnings == ()
    first, second = config.watches
    assert (first.prefecture, first.procedure) == ("haute-savoie", "first-request")
    assert [c.display for c in first.calendars] == ["1.1", "1.2", "1.3"]
    assert first.url == HS
    assert second.url == HS
    assert [c.label for c in second.calendars] == ["3.1", "3.2", "3.3", "3.4"]
    assert len(config.notify.urls) == 1
    assert config.monitor.surge[0].days == (0,)


def test_example_config_shows_every_key() -> None:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    keys = [
        "timezone",
        "interval",
        "jitter",
        "state_dir",
        "releases",
        "trouble_after",
        "user_agent",
        "timeout",
        "connect_timeout",
        "max_page_size",
        "min_spacing",
        "metrics",
        "[[monitor.surge]]",
        "days",
        "start",
        "end",
        "urls",
        "config",
        "events",
        "language",
        "heartbeat",
        "[notify.templates.slot_opened]",
        "title",
        "body",
        "name",
        "url",
        "calendars",
        "{ planning = 24980",
        "notify",
        "enabled",
        "prefecture",
        "procedure",
        "tgram://",
        "mailtos://",
        "ntfys://",
    ]
    for key in keys:
        assert key in text, key


def test_minimal_config_gets_the_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, WATCH))
    m = config.monitor
    assert m.timezone == "Europe/Paris" and str(m.tz) == "Europe/Paris"
    assert (m.interval, m.jitter, m.trouble_after) == (300, 30, 900)
    assert (m.timeout, m.connect_timeout, m.min_spacing) == (20, 10, 2)
    assert m.max_page_size == 2 * 1024 * 1024
    assert m.metrics is None and m.state_dir is None and m.user_agent is None
    assert m.http_user_agent == USER_AGENT
    assert [str(r) for r in m.releases] == ["mon 08:00"]
    (surge,) = m.surge
    assert (surge.days, surge.start, surge.end, surge.interval) == (
        (0,),
        time(7, 58),
        time(8, 30),
        30,
    )
    n = config.notify
    assert n.urls == () and n.config is None and n.templates == {}
    assert n.events == DEFAULT_EVENTS and n.language == "fr" and n.heartbeat == time(9, 0)
    (watch,) = config.watches
    assert watch.enabled and watch.interval is None and watch.notify == ()
    assert config.interval_for(watch) == 300
    assert watch.primary == CalendarRef(label="3.1")
    assert config.source == str(tmp_path / "config.toml")
    assert any("[notify] has no urls" in w for w in config.warnings)


def test_everything_set(tmp_path: Path) -> None:
    text = f"""
[monitor]
timezone = "Indian/Reunion"
interval = "10m"
jitter = 0
state_dir = "state"
releases = ["lundi 08:00", "thursday 14:00"]
trouble_after = "1h"
user_agent = "rdv-monitor (contact: me@example.org)"
timeout = "30s"
connect_timeout = "5s"
max_page_size = "512KiB"
min_spacing = 3
metrics = "127.0.0.1:9108"

[[monitor.surge]]
days = ["mon", "jeu"]
start = "07:58"
end = "08:30"
interval = "45s"

[notify]
urls = ["tgram://{TOKEN}/987654321", {{ url = "ntfys://ntfy.sh/t-abc123", tags = ["phone"] }}]
events = ["slot_opened", "heartbeat"]
language = "en"
heartbeat = 10:30:00

[notify.templates.slot_opened]
title = "Slot!"
body = "Go to {{url}}"

[[watch]]
name = "R"
url = "{HS}"
calendars = ["3.1", {{ planning = 24980, name = "3.1 bis" }}]
interval = "2m"
notify = ["phone"]
enabled = false
"""
    config = load_config(write(tmp_path, text))
    m = config.monitor
    assert m.timezone == "Indian/Reunion"
    assert (m.interval, m.jitter, m.trouble_after, m.min_spacing) == (600, 0, 3600, 3)
    assert m.state_dir == tmp_path / "state"
    assert [str(r) for r in m.releases] == ["mon 08:00", "thu 14:00"]
    assert m.http_user_agent == "rdv-monitor (contact: me@example.org)"
    assert m.max_page_size == 512 * 1024
    assert m.metrics == ListenAddress("127.0.0.1", 9108)
    assert m.surge[0].days == (0, 3) and m.surge[0].interval == 45
    n = config.notify
    assert n.language == "en" and n.heartbeat == time(10, 30)
    assert n.urls[1].tags == ("phone",) and n.tags == {"phone"}
    assert n.templates["slot_opened"].body == "Go to {url}"
    (watch,) = config.watches
    assert [c.display for c in watch.calendars] == ["3.1", "3.1 bis"]
    assert watch.calendars[1].planning == 24980
    assert config.interval_for(watch) == 120
    assert not watch.enabled and config.enabled_watches == ()
    assert any("enabled = false" in w for w in config.warnings)


def test_surge_can_be_turned_off(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[monitor]\nsurge = []\n" + WATCH))
    assert config.monitor.surge == ()


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, WATCH))
    with pytest.raises(FrozenInstanceError):
        config.monitor.interval = 1  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        config.watches[0].url = "x"  # type: ignore[misc]


def test_watch_lookup_by_name(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, WATCH))
    assert config.watch("  renouvellement ").name == "Renouvellement"
    assert config.watch("nope") is None


def test_parse_config_without_a_file() -> None:
    config = parse_config({"watch": [{"name": "x", "url": SIM}]}, source="<test>")
    assert config.watches[0].calendars == ()
    with pytest.raises(ConfigError, match=r"^<test>: \[\[watch\]\]: there is no"):
        parse_config({}, source="<test>")


# ----------------------------------------------------------------- file-level errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.toml")
    assert "there is no such file" in str(info.value)
    assert "config.example.toml" in str(info.value)
    assert isinstance(info.value, UsageError)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="this is a folder, not a file"):
        load_config(tmp_path)


def test_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, WATCH)

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: this file cannot be read (permission denied)")
    assert f"chmod 600 {path}" in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[[watch]]\nname = "R\xe9sidence"\n')
    with pytest.raises(ConfigError, match="line 2 is not UTF-8"):
        load_config(path)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf" + WATCH.encode())
    path.chmod(0o600)
    assert load_config(path).watches[0].name == "Renouvellement"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[monitor]\ninterval = 5m\n" + WATCH, ["line 2, column", 'write interval = "5m"']),
        ('[monitor]\ninterval = "5m"\ninterval = "6m"\n', ["line 3", "given twice"]),
        ("[monitor]\n[monitor]\n", ["line 2", "the section [monitor] appears twice"]),
        ('name = "x\n', ["line 1", "the line ends inside a text value"]),
        ("x = [1, 2\n", ["at the end of the file", "not closed"]),
    ],
)
def test_toml_syntax_errors_give_line_and_column(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    message = error_of(tmp_path, text)
    assert "not valid TOML" in message
    for part in expected:
        assert part in message, message
    assert "\n" not in message


# ----------------------------------------------------------------- value errors


CASES = [
    # (snippet placed before the watch, key path, words expected)
    ('[monitor]\ninterval = "5x"', "[monitor] interval", '"5x" is not a duration'),
    ('[monitor]\ninterval = "5 minutes"', "[monitor] interval", 'Did you mean "5m"?'),
    ("[monitor]\ninterval = 0", "[monitor] interval", "more than zero"),
    ("[monitor]\njitter = -3", "[monitor] jitter", "negative"),
    ("[monitor]\ninterval = true", "[monitor] interval", "expected a duration"),
    ('[monitor]\ntimezone = "Paris"', "[monitor] timezone", 'Did you mean "Europe/Paris"?'),
    ('[monitor]\ntimezone = "Mars/Olympus"', "[monitor] timezone", "not a time zone"),
    ('[monitor]\nreleases = ["lundi 8h"]', "[monitor] releases, item 1", '"mon 08:00"'),
    ('[monitor]\nreleases = "mon 08:00"', "[monitor] releases", "expected a list"),
    ('[monitor]\nreleases = ["funday 08:00"]', "[monitor] releases, item 1", "<day> HH:MM"),
    ('[monitor]\nuser_agent = "Mozilla/5.0"', "[monitor] user_agent", 'contain "rdv-monitor"'),
    ('[monitor]\nconnect_timeout = "30s"', "[monitor] connect_timeout", "longer than timeout"),
    ('[monitor]\nmax_page_size = "2 potatoes"', "[monitor] max_page_size", '"2MiB"'),
    ("[monitor]\nmax_page_size = 100", "[monitor] max_page_size", "out of range"),
    ('[monitor]\nmetrics = "everywhere"', "[monitor] metrics", '"127.0.0.1:9108"'),
    ("[monitor]\nmetrics = 70000", "[monitor] metrics", "out of range"),
    ('[monitor]\nstate_dir = ""', "[monitor] state_dir", "expected a folder"),
    (
        '[[monitor.surge]]\ndays = ["mon"]\nstart = "08:30"\nend = "08:00"',
        "[[monitor.surge]] #1 end",
        "cannot cross midnight",
    ),
    (
        '[[monitor.surge]]\ndays = ["mo"]\nstart = "08:00"\nend = "09:00"',
        "[[monitor.surge]] #1 days",
        "not a day of the week",
    ),
    (
        '[[monitor.surge]]\ndays = "mon"\nstart = "08:00"\nend = "09:00"',
        "[[monitor.surge]] #1 days",
        'days = ["mon"]',
    ),
    (
        '[[monitor.surge]]\ndays = ["mon"]\nstart = "8h"\nend = "09:00"',
        "[[monitor.surge]] #1 start",
        'Did you mean "08:00"?',
    ),
    (
        '[[monitor.surge]]\ndays = ["mon"]\nend = "09:00"',
        "[[monitor.surge]] #1 start",
        "required but missing",
    ),
    ('[notify]\nevents = ["slot_open"]', "[notify] events, item 1", 'Did you mean "slot_opened"?'),
    ('[notify]\nevents = ["trouble", "trouble"]', "[notify] events", "listed twice"),
    ('[notify]\nlanguage = "de"', "[notify] language", 'write one of "fr", "en"'),
    ('[notify]\nheartbeat = "25:00"', "[notify] heartbeat", "not a time of day"),
    ('[notify]\nurls = "tgram://x"', "[notify] urls", "expected a list"),
    ("[notify]\nurls = [5]", "[notify] urls, item 1", "notification address"),
    ('[notify]\nurls = [""]', "[notify] urls, item 1", "empty"),
    (
        '[notify]\nurls = ["telegram://abc/def"]',
        "[notify] urls, item 1",
        'Did you mean "tgram://"?',
    ),
    ('[notify]\nurls = ["tgram://nonsense"]', "[notify] urls, item 1", "not a complete Telegram"),
    ('[notify]\nurls = ["https://example.com"]', "[notify] urls, item 1", "ntfys://"),
    ('[notify]\nurls = ["just-text"]', "[notify] urls, item 1", "service name"),
    (
        '[notify]\nurls = [{ url = "ntfys://ntfy.sh/abc", tag = ["x"] }]',
        "[notify] urls, item 1",
        "did you mean 'tags'?",
    ),
    (
        '[notify]\nurls = [{ url = "ntfys://ntfy.sh/abc", tags = ["two words"] }]',
        "[notify] urls, item 1, tags, item 1",
        "not a tag",
    ),
    ('[notify]\nconfig = "nope.yml"', "[notify] config", "does not exist"),
    ('[notify.templates.slot_opend]\ntitle = "x"', "[notify] templates", '"slot_opened"'),
    ('[notify.templates.trouble]\ntitel = "x"', "[notify.templates.trouble]", "'title'"),
    ("[notify.templates.trouble]\ntitle = 5", "[notify.templates.trouble] title", "text"),
]


@pytest.mark.parametrize(("snippet", "where", "words"), CASES)
def test_each_mistake_names_file_key_and_fix(
    tmp_path: Path, snippet: str, where: str, words: str
) -> None:
    message = error_of(tmp_path, snippet + "\n\n" + WATCH)
    assert f": {where}: " in message, message
    assert words in message, message


WATCH_CASES = [
    ('name = ""\nurl = "{HS}"', "[[watch]] #1 name", "must not be empty"),
    ('url = "{HS}"', "[[watch]] #1 name", "required but missing"),
    ('name = "X"', '[[watch]] #1 ("X")', "which booking page to check"),
    ('name = "X"\nurl = "www.x.gouv.fr/booking"', '[[watch]] #1 ("X") url', '"https://www.x'),
    ('name = "X"\nurl = "ftp://x.gouv.fr/"', '[[watch]] #1 ("X") url', "https://"),
    ('name = "X"\nurl = "https:///booking"', '[[watch]] #1 ("X") url', "no host name"),
    ('name = "X"\nurl = "https://a b.fr/"', '[[watch]] #1 ("X") url', "contains spaces"),
    (
        'name = "X"\nurl = "{HS}"\ncalendar = ["3.1"]',
        '[[watch]] #1 ("X")',
        "key 'calendar' is not known; did you mean 'calendars'?",
    ),
    ('name = "X"\nurl = "{HS}"\ncalendars = "3.1"', '[[watch]] #1 ("X") calendars', "a list"),
    (
        'name = "X"\nurl = "{HS}"\ncalendars = [3.1]',
        '[[watch]] #1 ("X") calendars, item 1',
        "double quotes",
    ),
    (
        'name = "X"\nurl = "{HS}"\ncalendars = [2]',
        '[[watch]] #1 ("X") calendars, item 1',
        "{ planning = 2 }",
    ),
    (
        'name = "X"\nurl = "{HS}"\ncalendars = ["Calendrier 3.1"]',
        '[[watch]] #1 ("X") calendars, item 1, label',
        'Write just "3.1".',
    ),
    (
        'name = "X"\nurl = "{HS}"\ncalendars = [""]',
        '[[watch]] #1 ("X") calendars, item 1, label',
        "empty",
    ),
    (
        'name = "X"\nurl = "{HS}"\ncalendars = ["3.1", "3.1"]',
        '[[watch]] #1 ("X") calendars',
        'calendar "3.1" is listed twice',
    ),
    (
        'name = "X"\nurl = "{HS}"\ncalendars = [{{ planning = 1 }}, {{ planning = 1 }}]',
        '[[watch]] #1 ("X") calendars',
        "listed twice",
    ),
    (
        'name = "X"\nurl = "{HS}"\ncalendars = [{{ planning = -4 }}]',
        '[[watch]] #1 ("X") calendars, item 1, planning',
        "not a planning id",
    ),
    (
        'name = "X"\nurl = "{HS}"\ncalendars = [{{ plannig = 4 }}]',
        '[[watch]] #1 ("X") calendars, item 1',
        "did you mean 'planning'?",
    ),
    (
        'name = "X"\nurl = "{HS}"\ncalendars = [{{ name = "x" }}]',
        '[[watch]] #1 ("X") calendars, item 1',
        "one of the two",
    ),
    ('name = "X"\nurl = "{HS}"\nenabled = "maybe"', '[[watch]] #1 ("X") enabled', "true or false"),
    ('name = "X"\nurl = "{HS}"\ninterval = "1x"', '[[watch]] #1 ("X") interval', "duration"),
    ('name = "X"\nurl = "{HS}"\nnotify = ["phone"]', '[[watch]] #1 ("X") notify', 'tag "phone"'),
    ('name = "X"\nurl = "{HS}"\nnotify = "phone"', '[[watch]] #1 ("X") notify', "a list"),
    (
        'name = "X"\nprefecture = "haute-savoie"\nprocedure = "renewal"\nurl = "{HS}"',
        '[[watch]] #1 ("X") url',
        "not both",
    ),
    (
        'name = "X"\nprefecture = "haute-savoi"\nprocedure = "renewal"',
        '[[watch]] #1 ("X") prefecture',
        'did you mean "haute-savoie"?',
    ),
    (
        'name = "X"\nprefecture = "haute-savoie"\nprocedure = "renewl"',
        '[[watch]] #1 ("X") procedure',
        "first-request, visa-d-asylum-job-seeking, renewal, resident-card",
    ),
    (
        'name = "X"\nprefecture = "haute-savoie"',
        '[[watch]] #1 ("X")',
        'also needs procedure = "…", one of: "first-request"',
    ),
    ('name = "X"\nprocedure = "renewal"', '[[watch]] #1 ("X")', 'needs prefecture = "…"'),
    (
        'name = "X"\nprefecture = "haute-savoie"\nprocedure = "renewal"\ncalendars = ["1.1"]',
        '[[watch]] #1 ("X") calendars, item 1',
        '"1.1" is not one of the calendars of procedure "renewal" (3.1, 3.2, 3.3, 3.4)',
    ),
]


@pytest.mark.parametrize(("body", "where", "words"), WATCH_CASES)
def test_each_watch_mistake(tmp_path: Path, body: str, where: str, words: str) -> None:
    message = error_of(tmp_path, "[[watch]]\n" + body.format(HS=HS) + "\n")
    assert f": {where}: " in message, message
    assert words in message, message


def test_structure_mistakes(tmp_path: Path) -> None:
    assert "there is no [[watch]]" in error_of(tmp_path, "[monitor]\n")
    message = error_of(tmp_path, f'[watch]\nname = "x"\nurl = "{HS}"\n')
    assert "write [[watch]] with double brackets" in message
    message = error_of(tmp_path, "[[monitor]]\n" + WATCH)
    assert "[monitor]: write [monitor] with single brackets" in message
    message = error_of(tmp_path, "monitr = 1\n" + WATCH)
    assert "top level: key 'monitr' is not known; did you mean 'monitor'?" in message
    assert "monitor, notify, watch" in message


def test_unknown_key_lists_valid_keys(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[monitor]\nintervall = "5m"\n' + WATCH)
    assert "[monitor]: key 'intervall' is not known; did you mean 'interval'?" in message
    assert "timezone, interval, jitter" in message


def test_unknown_key_without_close_match(tmp_path: Path) -> None:
    message = error_of(tmp_path, "[monitor]\nzzz = 1\n" + WATCH)
    assert "key 'zzz' is not known." in message and "did you mean" not in message


def test_duplicate_watch_names(tmp_path: Path) -> None:
    message = error_of(tmp_path, WATCH + WATCH.replace('"Renouvellement"', '" renouvellement "'))
    assert (
        '[[watch]] #2 ("renouvellement") name: the name "renouvellement" is already used by '
        "[[watch]] #1"
    ) in message


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = f"""
[monitor]
interval = "5x"
timezone = "Nowhere/City"

[notify]
language = "de"

[[watch]]
name = "A"
url = "{HS}"
calendar = ["3.1"]

[[watch]]
name = "B"
prefecture = "haute-savoie"
procedure = "renewl"
interval = "10s"
"""
    message = error_of(tmp_path, text)
    head, *lines = message.splitlines()
    assert head == f"{tmp_path / 'config.toml'}: 5 problems:"
    assert all(line.startswith("  - ") for line in lines)
    assert len(lines) == 5
    assert lines[0].startswith("  - [monitor] timezone:")
    assert lines[1].startswith("  - [monitor] interval:")
    assert lines[2].startswith("  - [notify] language:")
    assert lines[3].startswith("  - [[watch]] #1 (\"A\"): key 'calendar'")
    assert lines[4].startswith('  - [[watch]] #2 ("B") procedure:')


def test_cross_checks_are_reported_with_field_errors(tmp_path: Path) -> None:
    """A floor violation shows up together with a typo elsewhere, not one run later."""
    text = f"""
[monitor]
interval = "10s"
jitter = "x"

[[watch]]
name = "A"
url = "{HS}"
"""
    message = error_of(tmp_path, text)
    assert "2 problems" in message
    assert "[monitor] jitter" in message and "[monitor] interval: 10s is too short" in message


# ----------------------------------------------------------------- politeness floor


@pytest.mark.parametrize(
    ("snippet", "where"),
    [
        ('[monitor]\ninterval = "10s"', "[monitor] interval"),
        ("[monitor]\ninterval = 29", "[monitor] interval"),
        (
            '[[monitor.surge]]\ndays = ["mon"]\nstart = "08:00"\nend = "08:10"\ninterval = "5s"',
            "[[monitor.surge]] #1 interval",
        ),
        ("[monitor]\nmin_spacing = 0.5", "[monitor] min_spacing"),
    ],
)
def test_floor_applies_to_real_prefectures(tmp_path: Path, snippet: str, where: str) -> None:
    message = error_of(tmp_path, snippet + "\n" + WATCH)
    assert f"{where}: " in message
    assert "too short" in message
    assert "polite to the prefecture" in message


def test_floor_applies_to_a_watch_interval(tmp_path: Path) -> None:
    message = error_of(tmp_path, WATCH + 'interval = "10s"\n')
    assert '[[watch]] #1 ("Renouvellement") interval: 10s is too short: the minimum is "30s"' in (
        message
    )
    assert "throttles clients that poll faster" in message


# ----------------------------------------------------------------- upper bounds


@pytest.mark.parametrize(
    ("snippet", "where", "maximum"),
    [
        ('[monitor]\ninterval = "100000000d"', "[monitor] interval", "1d"),
        ('[monitor]\ninterval = "25h"', "[monitor] interval", "1d"),
        ('[monitor]\njitter = "100000000d"', "[monitor] jitter", "1h"),
        ('[monitor]\njitter = "61m"', "[monitor] jitter", "1h"),
        ('[monitor]\ntrouble_after = "8d"', "[monitor] trouble_after", "7d"),
        ('[monitor]\ntimeout = "6m"', "[monitor] timeout", "5m"),
        ('[monitor]\nconnect_timeout = "1h"', "[monitor] connect_timeout", "5m"),
        ('[monitor]\nmin_spacing = "301"', "[monitor] min_spacing", "5m"),
        (
            '[[monitor.surge]]\ndays = ["mon"]\nstart = "08:00"\nend = "08:10"\ninterval = "2h"',
            "[[monitor.surge]] #1 interval",
            "1h",
        ),
    ],
)
def test_durations_have_an_upper_bound_with_a_reason(
    tmp_path: Path, snippet: str, where: str, maximum: str
) -> None:
    """Typos such as "100000000d" once passed validate and then overflowed date arithmetic
    in the daemon ("this is a bug", exit 1); each duration now has a bound, explained."""
    message = error_of(tmp_path, snippet + "\n" + WATCH)
    assert f"{where}: " in message
    assert f'is too long: the maximum is "{maximum}"; ' in message
    assert "problems" not in message  # this mistake only, nothing else tripped by it


def test_an_absurd_duration_is_refused_with_its_fields_own_maximum(tmp_path: Path) -> None:
    message = error_of(tmp_path, WATCH + 'interval = "100000000d"\n')
    assert (
        '[[watch]] #1 ("Renouvellement") interval: "100000000d" is too long: the maximum is "1d"'
    ) in message


def test_the_upper_bounds_themselves_are_accepted(tmp_path: Path) -> None:
    text = (
        '[monitor]\ninterval = "1d"\njitter = "1h"\ntrouble_after = "7d"\ntimeout = "5m"\n'
        'connect_timeout = "5m"\nmin_spacing = "5m"\n\n'
        '[[monitor.surge]]\ndays = ["mon"]\nstart = "08:00"\nend = "08:10"\ninterval = "1h"\n\n'
        + WATCH
        + 'interval = "1d"\n'
    )
    m = load_config(write(tmp_path, text)).monitor
    assert (m.interval, m.jitter, m.trouble_after) == (86400, 3600, 7 * 86400)
    assert (m.timeout, m.connect_timeout, m.min_spacing, m.surge[0].interval) == (
        300,
        300,
        300,
        3600,
    )


def test_validate_refuses_a_huge_jitter_instead_of_run_crashing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.cli import main

    path = write(tmp_path, '[monitor]\njitter = "100000000d"\n' + WATCH)
    assert main(["validate", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert '[monitor] jitter: "100000000d" is too long: the maximum is "1h"' in err
    assert "Traceback" not in err and "bug" not in err


def test_floor_is_exactly_thirty_seconds(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[monitor]\ninterval = "30s"\n' + WATCH))
    assert config.monitor.interval == POLITE_INTERVAL == 30


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "127.1.2.3", "localhost:8000", "[::1]:8080"])
def test_no_floor_for_loopback(tmp_path: Path, host: str) -> None:
    text = f"""
[monitor]
interval = "1s"
min_spacing = 0
jitter = 0
[[monitor.surge]]
days = ["mon"]
start = "08:00"
end = "08:10"
interval = "1s"
[[watch]]
name = "sim"
url = "http://{host}/booking/create/1"
interval = 0.5
"""
    config = load_config(write(tmp_path, text))
    assert config.watches[0].is_loopback
    assert config.interval_for(config.watches[0]) == 0.5


def test_base_floor_applies_when_any_watch_is_remote(tmp_path: Path) -> None:
    text = f'[monitor]\ninterval = "5s"\n[[watch]]\nname = "sim"\nurl = "{SIM}"\n' + WATCH
    message = error_of(tmp_path, text)
    assert "at least one watch polls www.haute-savoie.gouv.fr" in message


def test_loopback_watch_may_be_fast_next_to_a_remote_one(tmp_path: Path) -> None:
    text = f'[[watch]]\nname = "sim"\nurl = "{SIM}"\ninterval = "1s"\n' + WATCH
    config = load_config(write(tmp_path, text))
    assert config.interval_for(config.watches[0]) == 1


@pytest.mark.parametrize("host", ["127.0.0.1.example.com", "localhost.example.com", "10.0.0.1"])
def test_lookalike_hosts_are_not_loopback(tmp_path: Path, host: str) -> None:
    text = f'[[watch]]\nname = "x"\nurl = "http://{host}/booking/create/1"\ninterval = "1s"\n'
    assert "too short" in error_of(tmp_path, text)


# ----------------------------------------------------------------- catalogue & tags


def test_catalogue_expansion(tmp_path: Path) -> None:
    text = '[[watch]]\nname = "R"\nprefecture = "Haute-Savoie"\nprocedure = "renouvellement"\n'
    (watch,) = load_config(write(tmp_path, text)).watches
    assert watch.url == HS
    assert [c.label for c in watch.calendars] == ["3.1", "3.2", "3.3", "3.4"]
    assert (watch.prefecture, watch.procedure) == ("haute-savoie", "renewal")


def test_catalogue_calendars_may_be_narrowed(tmp_path: Path) -> None:
    text = (
        '[[watch]]\nname = "R"\nprefecture = "haute-savoie"\nprocedure = "renewal"\n'
        'calendars = ["3.2", "3.1", { planning = 24980 }]\n'
    )
    (watch,) = load_config(write(tmp_path, text)).watches
    assert [c.display for c in watch.calendars] == ["3.2", "3.1", "planning 24980"]


def test_tags_select_targets(tmp_path: Path) -> None:
    text = (
        f'[notify]\nurls = [{{ url = "tgram://{TOKEN}/1", tags = ["Phone"] }}]\n'
        + WATCH
        + 'notify = ["phone"]\n'
    )
    config = load_config(write(tmp_path, text))
    assert config.watches[0].notify == ("phone",)


def test_tags_are_not_checked_against_an_apprise_config_file(tmp_path: Path) -> None:
    write(tmp_path, "urls:\n  - json://localhost\n", name="apprise.yml")
    text = '[notify]\nconfig = "apprise.yml"\n' + WATCH + 'notify = ["family"]\n'
    config = load_config(write(tmp_path, text))
    assert config.notify.config == tmp_path / "apprise.yml"
    assert config.warnings == ()


def test_apprise_config_file_permissions_are_checked(tmp_path: Path) -> None:
    write(tmp_path, "urls:\n  - json://localhost\n", name="apprise.yml", mode=0o644)
    config = load_config(write(tmp_path, '[notify]\nconfig = "apprise.yml"\n' + WATCH))
    assert any("chmod 600" in w and "apprise.yml" in w for w in config.warnings)


# ----------------------------------------------------------------- warnings


def test_world_readable_config_is_warned_about(tmp_path: Path) -> None:
    # This file has no [notify] url: "may hold", not "holds", so the warning stays true.
    path = write(tmp_path, WATCH, mode=0o644)
    config = load_config(path)
    assert config.warnings[0] == (
        f"{path} can be read by other users of this machine and may hold secrets "
        f"(notification URLs); make it private with: chmod 600 {path}"
    )


def test_private_config_is_not_warned_about(tmp_path: Path) -> None:
    text = f'[notify]\nurls = ["tgram://{TOKEN}/1"]\n' + WATCH
    assert load_config(write(tmp_path, text, mode=0o600)).warnings == ()


@pytest.mark.parametrize(
    ("snippet", "words"),
    [
        ('[notify]\nheartbeat = "10:00"', '"heartbeat" is not in events'),
        ('[monitor]\nmetrics = "0.0.0.0:9108"', "other machines can reach"),
        ('[monitor]\ninterval = "30s"\njitter = "1m"', "jitter"),
    ],
)
def test_useful_warnings(tmp_path: Path, snippet: str, words: str) -> None:
    urls = f'urls = ["tgram://{TOKEN}/1"]'
    text = f"{snippet}\n{urls}\n" if "[notify]" in snippet else f"{snippet}\n[notify]\n{urls}\n"
    config = load_config(write(tmp_path, text + WATCH))
    assert any(words in w for w in config.warnings), config.warnings


def test_non_booking_url_is_warned_about(tmp_path: Path) -> None:
    text = '[[watch]]\nname = "x"\nurl = "https://www.haute-savoie.gouv.fr/Demarches"\n'
    config = load_config(write(tmp_path, text))
    assert any("does not look like a prefecture booking page" in w for w in config.warnings)


# ----------------------------------------------------------------- helpers


def test_resolve_state_dir(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, WATCH))
    home = {"HOME": "/home/amina"}
    assert resolve_state_dir(config, home) == Path("/home/amina/.local/state/rdv-monitor")
    xdg = {**home, "XDG_STATE_HOME": "/x/state"}
    assert resolve_state_dir(config, xdg) == Path("/x/state/rdv-monitor")
    assert resolve_state_dir(config, {**home, "XDG_STATE_HOME": "relative"}) == Path(
        "/home/amina/.local/state/rdv-monitor"
    )
    systemd = {**xdg, "STATE_DIRECTORY": "/var/lib/rdv-monitor:/var/lib/other"}
    assert resolve_state_dir(config, systemd) == Path("/var/lib/rdv-monitor")
    explicit = load_config(write(tmp_path, '[monitor]\nstate_dir = "/srv/rdv"\n' + WATCH))
    assert resolve_state_dir(explicit, systemd) == Path("/srv/rdv")
    tilde = load_config(write(tmp_path, '[monitor]\nstate_dir = "~/rdv"\n' + WATCH))
    assert tilde.monitor.state_dir == Path("~/rdv").expanduser()


def test_describe_config(tmp_path: Path) -> None:
    text = (
        f'[notify]\nurls = ["tgram://{TOKEN}/987654321"]\n'
        + WATCH
        + 'interval = "2m"\n[[watch]]\nname = "P"\nprefecture = "haute-savoie"\n'
        'procedure = "first-request"\n'
    )
    summary = describe_config(load_config(write(tmp_path, text)))
    assert "1. Renouvellement" in summary and "2. P" in summary
    assert HS in summary
    assert "calendars: 3.1 (primary), then 3.2" in summary
    assert "calendars: 1.1 (primary), then 1.2, 1.3" in summary
    assert "every 2m (own setting)" in summary and "every 5m" in summary
    assert "haute-savoie / first-request" in summary
    assert "mon 07:58–08:30 every 30s" in summary
    assert "tgram://" in summary
    assert TOKEN not in summary and "AAsecretBotToken4711" not in summary


def test_parse_size() -> None:
    assert parse_size("2MiB") == 2 * 1024 * 1024
    assert parse_size("512kib") == 512 * 1024
    assert parse_size("1.5MB") == 1_500_000
    assert parse_size(4096) == 4096
    with pytest.raises(ValueError, match="512KiB"):
        parse_size("lots")


def test_config_type_is_usable_directly() -> None:
    """Other modules and tests may build a Config without a file."""
    from monitor.config import Watch

    config = Config(watches=(Watch(name="sim", url=SIM, calendars=("3.1",)),))  # type: ignore[arg-type]
    assert config.watches[0].calendars[0].label == "3.1"
    assert config.monitor.interval == 300


def test_readme_gives_the_codes_min_spacing_default() -> None:
    """The README once said 1 s while the code (and config.example.toml) said 2 s."""
    default = MonitorSettings.model_fields["min_spacing"].default
    text = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert f"at least `min_spacing` apart (default {default:g} s)" in text
    assert f"at least {default:g} s (`min_spacing`) apart" in text
    assert f'min_spacing = "{default:g}s"' in (REPO / "config.example.toml").read_text(
        encoding="utf-8"
    )


def test_validating_a_config_loads_no_pydantic(tmp_path: Path) -> None:
    """pydantic cost the daemon ~8 MiB of its 55 MB (issue 12); the config builder is ours."""
    path = write(tmp_path, WATCH)
    script = (
        "import sys\n"
        "from monitor.config import load_config\n"
        f"load_config({str(path)!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('pydantic')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
