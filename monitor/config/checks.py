"""The rules that need more than one key, and the validation run that applies them all.

Each table is read on its own (:mod:`monitor.config.tables`); :class:`_Checker` then applies the
rules across them (politeness floors, unique watch names, catalogue look-ups,
notification tags, template placeholders, file checks) on every part that
validated, so that one run reports every problem of the file together.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.config.explain import format_issues, issue_order
from monitor.config.models import (
    CalendarRef,
    Config,
    MonitorSettings,
    NotifySettings,
    Watch,
    WatchIn,
    name_key,
)
from monitor.config.tables import Invalid, Loc, Mismatch, Table, ValidationError, unknown_key
from monitor.config.values import POLITE_INTERVAL, POLITE_SPACING, url_host
from monitor.config.words import POLITENESS, kind_of
from monitor.durations import format_duration, parse_duration
from monitor.errors import ConfigError
from monitor.events import template_problem
from monitor.http import is_loopback_host
from monitor.sites.registry import find_adapter

if TYPE_CHECKING:
    # Imported where a watch names a prefecture or procedure: the catalogue module and
    # its catalogue.toml costs the daemon memory for a config that gives URLs (issue 12).
    from monitor.catalogue import Catalogue

__all__ = ["parse_config", "permission_warning"]

_TOP_KEYS = ("monitor", "notify", "watch")


def permission_warning(file: Path, source: str, what: str) -> str | None:
    """A warning if ``file``, which may hold ``what``, is readable by other users."""
    if os.name != "posix":
        return None
    try:
        mode = file.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"{source} can be read by other users of this machine and may hold {what}; "
            f"make it private with: chmod 600 {source}"
        )
    return None


def parse_config(
    data: Mapping[str, Any],
    *,
    source: str,
    base_dir: str | Path | None = None,
    catalogue: Catalogue | None = None,
) -> Config:
    """Validate ``data`` (a parsed TOML document) into a :class:`Config`.

    ``source`` names the file in messages. ``base_dir`` is the folder that
    relative paths are relative to (default: the folder of ``source``).
    Raises :class:`~monitor.errors.ConfigError` listing every problem found.
    """
    base = Path(base_dir) if base_dir is not None else Path(source).expanduser().parent
    checker = _Checker(data, source, base, catalogue)
    return checker.run()


class _Checker:
    """One validation run: collects issues and warnings, then builds the Config or raises."""

    def __init__(
        self, data: Mapping[str, Any], source: str, base: Path, catalogue: Catalogue | None
    ) -> None:
        self.data = data
        self.source = source
        self.base = base
        self._catalogue = catalogue
        self.issues: list[Invalid] = []
        self.warnings: list[str] = []

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            from monitor.catalogue import load_catalogue

            self._catalogue = load_catalogue()
        return self._catalogue

    def issue(self, loc: Loc, message: str) -> None:
        self.issues.append(Invalid(message, loc))

    def validate(self, model: type[Table], value: object, prefix: Loc) -> Any:
        """``model`` validated from ``value``, or ``None`` after recording its problems."""
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            for err in exc.errors:
                if isinstance(err, Mismatch):  # the table itself, whose key is prefix's
                    err = err.worded(str(prefix[0]), secret=False)
                self.issue((*prefix, *err.loc), err.message)
            return None

    # ---- the run

    def run(self) -> Config:
        data = self.data
        if not isinstance(data, Mapping):
            raise ConfigError(f"{self.source}: expected a TOML document.", path=self.source)
        for key in data:
            if key not in _TOP_KEYS:
                self.issue((), unknown_key(str(key), _TOP_KEYS))
        monitor = self._section("monitor", MonitorSettings)
        notify = self._section("notify", NotifySettings)
        raw_watches = self._raw_watches()
        inputs = [
            (i, self.validate(WatchIn, raw, ("watch", i)) if isinstance(raw, dict) else None)
            for i, raw in enumerate(raw_watches)
        ]
        for i, raw in enumerate(raw_watches):
            if not isinstance(raw, dict):
                self.issue(("watch", i), f"expected a table of keys, got {kind_of(raw)}.")
        if monitor is not None:
            monitor = self._resolve_monitor_paths(monitor)
        if notify is not None:
            self._check_templates(notify)
            notify = self._check_notify(notify)
        watches = self._build_watches(inputs, notify)
        all_loopback = self._all_loopback(raw_watches, watches)
        self._check_floors(monitor, all_loopback, watches)
        if self.issues:
            order = {str(k): n for n, k in enumerate(data)}
            self.issues.sort(key=lambda issue: issue_order(issue, order))
            raise ConfigError(format_issues(self.source, self.issues, data), path=self.source)
        assert monitor is not None and notify is not None
        final = tuple(w for _, w in sorted(watches.items()))
        self._warn(monitor, notify, final)
        return Config.model_construct(
            monitor=monitor,
            notify=notify,
            watches=final,
            source=self.source,
            warnings=tuple(self.warnings),
        )

    def _section(self, name: str, model: type[Table]) -> Any:
        raw = self.data.get(name, {})
        if isinstance(raw, list):
            self.issue(
                (name,),
                f"write [{name}] with single brackets: there is only one {name} section.",
            )
            return None
        if not isinstance(raw, dict):
            self.issue(
                (name,), f"expected a section [{name}] (a table of keys), got {kind_of(raw)}."
            )
            return None
        return self.validate(model, raw, (name,))

    def _raw_watches(self) -> list[Any]:
        raw = self.data.get("watch")
        example = (
            'add one, e.g.\n    [[watch]]\n    name = "Renouvellement titre de séjour"\n'
            '    prefecture = "haute-savoie"\n    procedure = "renewal"\n'
            "(rdv-monitor procedures lists the known ones; any booking page works with url = …)"
        )
        if raw is None or raw == []:
            self.issue(("watch",), f"there is no [[watch]]: nothing to check; {example}")
            return []
        if isinstance(raw, dict):
            self.issue(
                ("watch",),
                "write [[watch]] with double brackets (one [[watch]] per booking to check), "
                "not [watch].",
            )
            return []
        if not isinstance(raw, list):
            self.issue(("watch",), f"expected [[watch]] sections, got {kind_of(raw)}.")
            return []
        return raw

    # ---- monitor & notify

    def _resolve_monitor_paths(self, monitor: MonitorSettings) -> MonitorSettings:
        if monitor.state_dir is not None and not monitor.state_dir.is_absolute():
            monitor = monitor.model_copy(update={"state_dir": self.base / monitor.state_dir})
        if monitor.state_dir is not None:
            self._check_state_dir(monitor.state_dir)
        return monitor

    def _check_state_dir(self, folder: Path) -> None:
        """A state folder that ``run`` could not create (or write) is an error now, not at
        the first check. Nothing is created here: validate only reads."""
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
            return
        why = (
            "is a file, not a folder"
            if existing.exists() and not existing.is_dir()
            else ("cannot be written by this user")
        )
        self.issue(
            ("monitor", "state_dir"),
            f"Cannot create the state folder {folder}: {existing} {why}. Give a folder this "
            'user may write (e.g. state_dir = "~/.local/state/rdv-monitor"), or remove the '
            "key to use the default.",
        )

    def _check_templates(self, notify: NotifySettings) -> None:
        """Every template may only use the placeholders its event offers (a wrong one would
        otherwise be found only when a slot opens, and the alert sent without it)."""
        for kind, template in notify.templates.items():
            for key in ("title", "body"):
                text = getattr(template, key)
                problem = template_problem(kind, text) if text is not None else None
                if problem:
                    self.issue(("notify", "templates", kind, key), problem)

    def _check_notify(self, notify: NotifySettings) -> NotifySettings:
        if notify.config is None:
            return notify
        path = notify.config if notify.config.is_absolute() else self.base / notify.config
        if not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            self.issue(
                ("notify", "config"),
                f'"{notify.config}" {what} (looked for {path}); give the path of your apprise '
                "config file, relative to this config file's folder, or remove the key.",
            )
            return notify
        warning = permission_warning(path, str(path), "notification secrets")
        if warning:
            self.warnings.append(warning)
        return notify.model_copy(update={"config": path})

    # ---- watches

    def _build_watches(
        self, inputs: list[tuple[int, WatchIn | None]], notify: NotifySettings | None
    ) -> dict[int, Watch]:
        built: dict[int, Watch] = {}
        names: dict[str, int] = {}
        for i, spec in inputs:
            if spec is None:
                continue
            key = name_key(spec.name)
            if key in names:
                self.issue(
                    ("watch", i, "name"),
                    f'the name "{spec.name}" is already used by [[watch]] #{names[key] + 1}; '
                    "give each watch its own name (messages and saved state use it).",
                )
            else:
                names[key] = i
            watch = self._expand(i, spec)
            if watch is None:
                continue
            if (
                watch.interval is not None
                and watch.interval < POLITE_INTERVAL
                and not (watch.is_loopback)
            ):
                self.issue(
                    ("watch", i, "interval"),
                    f"{format_duration(watch.interval)} is too short: the minimum is "
                    f'"{format_duration(POLITE_INTERVAL)}" {POLITENESS}. Write e.g. '
                    'interval = "2m", or leave it out to use [monitor] interval.',
                )
            if notify is not None and notify.config is None and watch.notify:
                missing = [t for t in watch.notify if t not in notify.tags]
                if missing:
                    known = ", ".join(sorted(notify.tags)) or "none"
                    self.issue(
                        ("watch", i, "notify"),
                        f'tag "{missing[0]}" is not given to any [notify] urls entry (tags in '
                        f'use: {known}); tag a URL with {{ url = "…", tags = '
                        f'["{missing[0]}"] }}, or remove it to notify every target.',
                    )
            built[i] = watch
        return built

    def _expand(self, i: int, spec: WatchIn) -> Watch | None:
        loc: Loc = ("watch", i)
        uses_catalogue = spec.prefecture is not None or spec.procedure is not None
        if spec.url is not None and uses_catalogue:
            self.issue(
                (*loc, "url"),
                "give either url (with calendars) or prefecture + procedure (from the "
                "catalogue), not both: the catalogue already knows the booking address. "
                "Remove url, or remove prefecture and procedure.",
            )
            return None
        if spec.url is None and not uses_catalogue:
            self.issue(
                loc,
                "says which booking page to check: add url = "
                '"https://…/booking/create/<number>" (with calendars = ["…"]), or '
                'prefecture = "…" and procedure = "…" from the catalogue '
                "(rdv-monitor procedures lists them).",
            )
            return None
        fields: dict[str, Any] = {
            "name": spec.name,
            "interval": spec.interval,
            "notify": spec.notify,
            "enabled": spec.enabled,
            "proxy": spec.proxy,
        }
        if spec.url is not None:
            fields.update(url=spec.url, calendars=spec.calendars or ())
            return self.validate(Watch, fields, loc)
        if spec.prefecture is None or spec.procedure is None:
            missing = "procedure" if spec.procedure is None else "prefecture"
            self.issue(loc, self._catalogue_hint(spec.prefecture, missing))
            return None
        from monitor.catalogue import UnknownCatalogueEntry

        try:
            procedure = self.catalogue.lookup(spec.prefecture, spec.procedure)
        except UnknownCatalogueEntry as exc:
            self.issue((*loc, exc.kind), f"{exc} Run rdv-monitor procedures to see them all.")
            return None
        calendars = tuple(CalendarRef(label=c) for c in procedure.calendars)
        if spec.calendars is not None:
            known = {c.key for c in calendars}
            for n, ref in enumerate(spec.calendars):
                if ref.label is not None and ref.key not in known:
                    self.issue(
                        (*loc, "calendars", n),
                        f'calendar "{ref.display}" is not one of the calendars of procedure '
                        f'"{procedure.id}" ({", ".join(procedure.calendars)}); list some of '
                        "those (to watch fewer, or in another order), or remove calendars "
                        "to watch them all.",
                    )
            calendars = spec.calendars
        fields.update(
            url=procedure.url,
            calendars=calendars,
            prefecture=procedure.prefecture,
            procedure=procedure.id,
        )
        return self.validate(Watch, fields, loc)

    def _catalogue_hint(self, prefecture: str | None, missing: str) -> str:
        if missing == "procedure":
            from monitor.catalogue import UnknownCatalogueEntry

            try:
                pref = self.catalogue.prefecture(prefecture or "")
                choices = ", ".join(f'"{p.id}"' for p in pref.procedures)
            except UnknownCatalogueEntry:
                choices = "see rdv-monitor procedures"
            return (
                f'prefecture = "{prefecture}" also needs procedure = "…", one of: {choices} '
                "(rdv-monitor procedures explains them)."
            )
        choices = ", ".join(f'"{p}"' for p in self.catalogue.prefectures)
        return f'procedure also needs prefecture = "…", one of: {choices}.'

    # ---- politeness

    def _all_loopback(self, raw_watches: list[Any], watches: dict[int, Watch]) -> bool:
        if not raw_watches:
            return False
        for i, raw in enumerate(raw_watches):
            if i in watches:
                host = watches[i].host
            elif isinstance(raw, dict) and isinstance(raw.get("url"), str):
                host = url_host(raw["url"].strip())
            else:
                return False
            if not is_loopback_host(host):
                return False
        return True

    def _timings(
        self, monitor: MonitorSettings | None
    ) -> tuple[float | None, list[float | None], float | None]:
        """Base interval, surge intervals and min_spacing; read from the raw table (where
        readable) when [monitor] has other problems, so floors are reported with them."""
        if monitor is not None:
            windows: list[float | None] = [w.interval for w in monitor.surge]
            return monitor.interval, windows, monitor.min_spacing
        raw = self.data.get("monitor")
        raw = raw if isinstance(raw, dict) else {}

        def read(value: object, default: float | None) -> float | None:
            if value is None:
                return default
            if not isinstance(value, str | int | float):
                return None
            try:
                return parse_duration(value)
            except ValueError:
                return None

        written = raw.get("surge")
        surge: list[float | None] = (
            [read(w.get("interval"), 30.0) if isinstance(w, dict) else None for w in written]
            if isinstance(written, list)
            else []
        )
        interval = read(raw.get("interval"), 300.0)
        return interval, surge, read(raw.get("min_spacing"), 2.0)

    def _check_floors(
        self, monitor: MonitorSettings | None, all_loopback: bool, watches: dict[int, Watch]
    ) -> None:
        if all_loopback:
            return
        interval, surge, min_spacing = self._timings(monitor)
        remote = next((w.host for w in watches.values() if not w.is_loopback), None)
        why = f"{POLITENESS}; at least one watch polls {remote}" if remote else POLITENESS
        floor = format_duration(POLITE_INTERVAL)
        if interval is not None and 0 < interval < POLITE_INTERVAL:
            self.issue(
                ("monitor", "interval"),
                f'{format_duration(interval)} is too short: the minimum is "{floor}" '
                f'{why}. Write e.g. interval = "5m". (Only a local test server, '
                "127.0.0.1 or localhost, may be polled faster.)",
            )
        for n, value in enumerate(surge):
            if value is not None and 0 < value < POLITE_INTERVAL:
                self.issue(
                    ("monitor", "surge", n, "interval"),
                    f'{format_duration(value)} is too short: the minimum is "{floor}" '
                    f'{why}. Write interval = "{floor}" or more.',
                )
        if min_spacing is not None and min_spacing < POLITE_SPACING:
            self.issue(
                ("monitor", "min_spacing"),
                f"{format_duration(min_spacing)} is too short: two requests to one "
                f'prefecture must be at least "{format_duration(POLITE_SPACING)}" apart '
                f'{POLITENESS}. Write e.g. min_spacing = "2s".',
            )

    # ---- warnings

    def _warn(
        self, monitor: MonitorSettings, notify: NotifySettings, watches: tuple[Watch, ...]
    ) -> None:
        if not notify.urls and notify.config is None:
            self.warnings.append(
                "[notify] has no urls and no config: when a slot opens, rdv-monitor will only "
                'write it to its log. Add e.g. urls = ["tgram://<bot token>/<chat id>"].'
            )
        default_time = NotifySettings.model_fields["heartbeat"].default
        if notify.heartbeat != default_time and "heartbeat" not in notify.events:
            self.warnings.append(
                '[notify] heartbeat is set but "heartbeat" is not in events, so no daily '
                'message will be sent; add "heartbeat" to events, or remove heartbeat.'
            )
        if watches and not any(w.enabled for w in watches):
            self.warnings.append("every [[watch]] has enabled = false: nothing will be checked.")
        if monitor.metrics is not None and not is_loopback_host(monitor.metrics.host):
            self.warnings.append(
                f"[monitor] metrics listens on {monitor.metrics}, which other machines can "
                'reach; use "127.0.0.1:<port>" unless you mean it.'
            )
        for n, w in enumerate(watches):
            if not w.is_loopback and w.prefecture is None and find_adapter(w.url) is None:
                self.warnings.append(
                    f'[[watch]] #{n + 1} ("{w.name}") url does not look like a prefecture '
                    "booking page (those contain /booking/create/<number>); check that you "
                    "copied the address of the booking page itself."
                )
        if monitor.jitter >= self._shortest_interval(monitor, watches):
            self.warnings.append(
                f"[monitor] jitter ({format_duration(monitor.jitter)}) is not shorter than the "
                "polling interval: checks will bunch up irregularly; make it smaller."
            )

    @staticmethod
    def _shortest_interval(monitor: MonitorSettings, watches: tuple[Watch, ...]) -> float:
        values = [monitor.interval] + [w.interval for w in watches if w.interval is not None]
        return min(values) if values else math.inf
