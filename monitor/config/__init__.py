"""The configuration file: read it, check all of it, and explain every mistake in user words.

People who run rdv-monitor are often not programmers, so a wrong config must
produce one message that names the file, the key path (``[monitor] interval``,
``[[watch]] #2 ("Premier titre") calendars, item 1``), what is expected and how
to fix it, for *every* problem at once, and never a traceback.

One job per module:

- :mod:`.words`: how messages quote values, give examples and suggest fixes;
- :mod:`.values`: the value types (durations, sizes, times, tags, addresses);
- :mod:`.tables`: the builder that reads a table into a frozen dataclass, every problem kept;
- :mod:`.models`: the models, one per table, each key with its parser and default;
- :mod:`.explain`: where a problem is, as the file reads, and TOML errors in user prose;
- :mod:`.checks`: the rules across tables, and the validation run;
- :mod:`.load`: reading the file, and where the state lives.

How a config is shown to its user (``validate``) is :func:`monitor.report.describe_config`;
masking secrets is :mod:`monitor.secrets`; how calendars are named is the site
plugin's rule (:mod:`monitor.sites.registry`).
"""

from monitor.config.checks import parse_config
from monitor.config.load import load_config, resolve_state_dir
from monitor.config.models import (
    DEFAULT_SURGE,
    CalendarRef,
    Config,
    MonitorSettings,
    NotifySettings,
    NotifyTarget,
    Release,
    SurgeWindow,
    Template,
    Watch,
)
from monitor.config.values import (
    DEFAULT_EVENTS,
    EVENTS,
    POLITE_INTERVAL,
    POLITE_SPACING,
    WEEKDAYS,
    ListenAddress,
    format_size,
    parse_size,
)
from monitor.secrets import URL_IN_TEXT, mask_url, mask_urls_in_text

__all__ = [
    "DEFAULT_EVENTS",
    "DEFAULT_SURGE",
    "EVENTS",
    "POLITE_INTERVAL",
    "POLITE_SPACING",
    "URL_IN_TEXT",
    "WEEKDAYS",
    "CalendarRef",
    "Config",
    "ListenAddress",
    "MonitorSettings",
    "NotifySettings",
    "NotifyTarget",
    "Release",
    "SurgeWindow",
    "Template",
    "Watch",
    "format_size",
    "load_config",
    "mask_url",
    "mask_urls_in_text",
    "parse_config",
    "parse_size",
    "resolve_state_dir",
]
