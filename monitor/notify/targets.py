"""Notification targets: load them from the config, route events to them, send through apprise.

A :class:`Target` is one apprise destination (a Telegram chat, a mailbox, an ntfy
topic…). Everything about it that may be shown or stored is secret-free: a
stable ``id`` (a hash of its URL, the key of per-target delivery state), the
``masked`` URL and its ``tags``. The apprise plugin that holds the secrets is a
private field, absent from ``repr``/``str``/equality, and a Target refuses to be
pickled.

:func:`send` delivers one message to one target, blocking (apprise is
synchronous), and says why it failed in a short, secret-free sentence
(``"HTTP 500 (Internal Server Error) from 127.0.0.1:8765"``, ``"connection
refused by …"``, ``"timed out waiting for an answer from …"``). It calls the
target's own plugin, not an :class:`apprise.Apprise` of several, so the result is
this target's alone. apprise says why a send failed only through its logger;
so each target's plugin logs into a private logger (not attached to the logging
tree, so its DEBUG lines, which quote request URLs, are never printed), and the
records are collected per *thread*: several targets can be sent to in parallel
threads without their reasons mixing (``apprise.LogCapture`` is global and would
mix them). Records the shared ``apprise`` logger receives from the sending
thread are collected the same way and kept out of the log.

Time-outs: apprise's plugins wait 4 s to connect and 4 s for an answer by
default, a few plugins much longer (SMTP 15 s per step, apprise-api 30 s).
Every target gets at most :data:`CONNECT_TIMEOUT` to connect and
:data:`READ_TIMEOUT` for an answer (shorter ``cto``/``rto`` given in the URL are
kept), so a dead target fails within about 15 s and a slow but working one is
not mistaken for a failure (which would make the daemon send it twice).
"""

from __future__ import annotations

import hashlib
import http
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# ``redact``: the module is the redaction half of monitor.secrets, named by its use here.
from monitor import secrets as redact
from monitor.errors import ConfigError
from monitor.secrets import URL_IN_TEXT, mask_url, mask_urls_in_text, secrets_of
from monitor.secrets import ThreadSink as _ThreadSink
from monitor.secrets import is_host as _is_host
from monitor.secrets import private_logger as _private_logger
from monitor.secrets import shared_sink as _shared_sink

if TYPE_CHECKING:
    from monitor.config import NotifySettings

__all__ = [
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "SendResult",
    "Target",
    "load_targets",
    "secrets_of",
    "send",
    "send_all",
    "targets_for",
]

log = logging.getLogger("monitor.notify")

CONNECT_TIMEOUT = 4.0
"""Seconds to wait for a connection (apprise's own default)."""
READ_TIMEOUT = 10.0
"""Seconds to wait for an answer once connected; also the cap of plugins, like SMTP, that
use a single time-out for every step of the exchange."""
MAX_REASON = 300
"""A reason is one line of at most this many characters."""


def _one_line(text: str, *redactors: redact.Redactor) -> str:
    """``text`` redacted, URLs masked, whitespace collapsed, cut to :data:`MAX_REASON`."""
    for redactor in redactors:
        text = redactor(text)
    text = " ".join(mask_urls_in_text(text).split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """One apprise destination. Only secret-free fields are public; ``repr`` and ``str``
    show the masked URL, and the plugin holding the secrets stays private."""

    id: str
    """Stable and secret-free: the first 16 hex digits of the SHA-256 of the URL."""
    masked: str
    """The URL as humans may see it (``tgram://1...n/****21``)."""
    tags: frozenset[str] = frozenset()
    service: str = ""
    """apprise's name of the service, e.g. ``"Telegram"``."""
    _plugin: Any = field(default=None, repr=False, compare=False)
    _secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)
    _sink: _ThreadSink | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __str__(self) -> str:
        return self.masked

    def secrets(self) -> tuple[str, ...]:
        """The strings to hide from logs (see :func:`secrets_of`). Never print them."""
        return self._secrets

    @property
    def timeouts(self) -> tuple[float, float] | None:
        """(connect, read) seconds this target's plugin waits, if it has a plugin."""
        if self._plugin is None:
            return None
        return (
            float(self._plugin.socket_connect_timeout),
            float(self._plugin.socket_read_timeout),
        )

    def __reduce__(self) -> Any:
        raise TypeError("a Target holds secrets and cannot be pickled; store its id")

    def __copy__(self) -> Target:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Target:
        return self


def _target_id(url: str) -> str:
    return hashlib.sha256(url.strip().encode("utf-8")).hexdigest()[:16]


def _apply_timeouts(plugin: Any) -> None:
    """Cap the plugin's time-outs (see the module docstring); values set in the URL that
    are shorter than the caps are kept, apprise's defaults are replaced."""
    cls = type(plugin)
    # A plugin whose own connect default is longer than ours (SMTP: 15 s) uses it for
    # every step of the exchange, not only to connect: it gets the read cap.
    connect_cap = READ_TIMEOUT if cls.socket_connect_timeout > CONNECT_TIMEOUT else CONNECT_TIMEOUT
    for attr, cap in (
        ("socket_connect_timeout", connect_cap),
        ("socket_read_timeout", READ_TIMEOUT),
    ):
        value = float(getattr(plugin, attr))
        explicit = value != float(getattr(cls, attr))
        setattr(plugin, attr, min(value, cap) if explicit else cap)


def _make_target(plugin: Any, url: str, tags: frozenset[str], extra_urls: Sequence[str]) -> Target:
    """Wrap an apprise plugin: id and secrets from ``url`` (and ``extra_urls``, other
    spellings of the same target), its own private logger, capped time-outs."""
    secrets: list[str] = []
    for u in (url, *extra_urls):
        secrets.extend(s for s in secrets_of(u) if s not in secrets)
    target_id = _target_id(url)
    masked = redact.Redactor(s for s in secrets if "://" not in s)(mask_url(url))
    logger, sink = _private_logger(target_id)
    plugin.logger = logger
    _apply_timeouts(plugin)
    return Target(
        id=target_id,
        masked=masked,
        tags=tags,
        service=str(getattr(plugin, "service_name", "") or ""),
        _plugin=plugin,
        _secrets=tuple(secrets),
        _sink=sink,
    )


def _problems(records: Sequence[logging.LogRecord]) -> list[logging.LogRecord]:
    """WARNING and ERROR records; apprise's deprecation notices (above ERROR) are not
    problems and are logged as warnings instead."""
    for record in records:
        if record.levelno > logging.ERROR:
            log.warning("apprise: %s", _one_line(record.getMessage(), redact.active()))
    return [r for r in records if logging.WARNING <= r.levelno <= logging.ERROR]


def _from_url(url: str, tags: frozenset[str]) -> Target:
    # One plugin module rather than apprise's ~190 (see monitor.apprise_plugins).
    from monitor.apprise_plugins import instantiate

    with _shared_sink().collect() as records:
        try:
            plugin = instantiate(url)
        except Exception as exc:
            plugin = None
            records.append(logging.makeLogRecord({"msg": str(exc), "levelno": logging.ERROR}))
    if plugin is None:
        local = redact.Redactor(secrets_of(url))
        why = "; ".join(_one_line(r.getMessage(), local) for r in _problems(records))
        raise ConfigError(
            f'[notify] urls: apprise cannot use "{local(url)}"'
            + (f": {why}" if why else "")
            + ". Check the address against https://github.com/caronc/apprise/wiki."
        )
    extra = [plugin.url()] if callable(getattr(plugin, "url", None)) else []
    return _make_target(plugin, url, tags, extra)


def _from_config_file(path: Path) -> list[Target]:
    """The targets of an apprise config file (YAML or TEXT), each with its tags."""
    import apprise

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(
            f'[notify] config: cannot read "{path}" ({exc.strerror}).', str(path)
        ) from None
    local = redact.Redactor(s for m in URL_IN_TEXT.finditer(text) for s in secrets_of(m.group()))
    with _shared_sink().collect() as records:
        try:
            config = apprise.AppriseConfig()
            added = config.add(str(path))
            # apprise 2.3 names it services, 2.2 servers
            services = getattr(config, "services", None) or getattr(config, "servers", None)
            plugins = list(services()) if added and services else []
        except Exception as exc:
            added, plugins = False, []
            records.append(logging.makeLogRecord({"msg": str(exc), "levelno": logging.ERROR}))
    problems = [_one_line(r.getMessage(), local) for r in _problems(records)]
    if problems or not added:
        raise ConfigError(
            f'[notify] config: apprise could not load "{path}": '
            + ("; ".join(dict.fromkeys(problems)) or "it is not an apprise config file")
            + ". See https://github.com/caronc/apprise/wiki/config for the format.",
            str(path),
        )
    if not plugins:
        raise ConfigError(
            f'[notify] config: "{path}" holds no notification URL; add some '
            "(https://github.com/caronc/apprise/wiki/config) or remove the key.",
            str(path),
        )
    targets = []
    for plugin in plugins:
        tags = frozenset(str(t).lower() for t in getattr(plugin, "tags", ()) or ())
        targets.append(_make_target(plugin, plugin.url(), tags, ()))
    return targets


def load_targets(notify: NotifySettings) -> list[Target]:
    """Every notification target of ``[notify]``: its ``urls`` (with their tags), then the
    services of its apprise ``config`` file (with theirs), in order. A URL given twice is
    one target whose tags are the union.

    Raises :class:`ConfigError` (URLs masked) when apprise cannot use a URL or read the
    config file, or the file holds no URL. The secrets of every target are also added to
    the process-wide log redactor (:func:`monitor.redact.active`), so a reloaded config's
    new tokens are hidden from the log from the moment they are loaded.
    """
    targets = [_from_url(entry.url, frozenset(entry.tags)) for entry in notify.urls]
    if notify.config is not None:
        targets.extend(_from_config_file(Path(notify.config)))
    merged: dict[str, Target] = {}
    for target in targets:
        seen = merged.get(target.id)
        if seen is not None:
            target = Target(
                id=seen.id,
                masked=seen.masked,
                tags=seen.tags | target.tags,
                service=seen.service,
                _plugin=seen._plugin,
                _secrets=seen._secrets,
                _sink=seen._sink,
            )
        merged[target.id] = target
    redact.active().add(*(s for t in merged.values() for s in t.secrets()))
    return list(merged.values())


def targets_for(targets: Sequence[Target], tags: Sequence[str]) -> list[Target]:
    """The targets a watch notifies: all of them when it names no tags, else those having
    at least one of its tags (case-insensitive)."""
    if not tags:
        return list(targets)
    wanted = {t.lower() for t in tags}
    return [t for t in targets if t.tags & wanted]


# --------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class SendResult:
    """The outcome of one send to one target; ``reason`` is a redacted single line."""

    ok: bool
    reason: str | None = None


_HTTP_STATUS = re.compile(r"\berror=(\d{3})\b|\((\d{3})\)")
_CAUSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"refused", re.I), "connection refused by {where}"),
    (
        re.compile(r"connect timeout|ConnectTimeout|timed out connecting", re.I),
        "timed out connecting to {where} (after {connect:g} s)",
    ),
    (
        re.compile(r"read timed out|read timeout|ReadTimeout", re.I),
        "timed out waiting for an answer from {where} (after {read:g} s)",
    ),
    (re.compile(r"timed out|timeout", re.I), "timed out talking to {where}"),
    (
        re.compile(
            r"Name or service not known|nodename nor servname|getaddrinfo|NameResolution"
            r"|name resolution|No address associated",
            re.I,
        ),
        "host name of {where} not found (DNS)",
    ),
    (
        re.compile(r"CERTIFICATE_VERIFY_FAILED|SSLError|SSL:|certificate", re.I),
        "TLS error with {where} (certificate or protocol)",
    ),
    (
        re.compile(r"reset by peer|Connection aborted|RemoteDisconnected|closed connection", re.I),
        "connection closed by {where} before it answered",
    ),
    (re.compile(r"Network is unreachable|No route to host", re.I), "{where} is unreachable"),
)


def _where(target: Target) -> str:
    """``host:port`` when the plugin talks to a host named in the URL, else the service
    name (the "host" of ``tgram://`` is the bot token's id, not a host)."""
    plugin = target._plugin
    host = str(getattr(plugin, "host", "") or "")
    if host and _is_host(host):
        port = getattr(plugin, "port", None)
        shown = f"[{host}]" if ":" in host else host
        return f"{shown}:{port}" if port else shown
    return target.service or "the service"


def _http_reason(message: str, where: str) -> str | None:
    match = _HTTP_STATUS.search(message)
    if match is None:
        return None
    code = int(match.group(1) or match.group(2))
    if not 100 <= code <= 599:
        return None
    # apprise writes "Failed to send X notification[ to Y]: <detail>, error=NNN."
    detail = message.split(": ", 1)[1] if ": " in message else ""
    detail = re.sub(r",?\s*error=\d{3}\.?\s*$", "", detail).strip(" .,")
    if not detail:
        try:
            detail = http.HTTPStatus(code).phrase
        except ValueError:
            detail = ""
    return f"HTTP {code}" + (f" ({detail})" if detail else "") + f" from {where}"


def _reason(target: Target, records: list[logging.LogRecord], error: Exception | None) -> str:
    """Why the send failed, from what apprise logged during it (most telling first)."""
    where = _where(target)
    connect, read = target.timeouts or (CONNECT_TIMEOUT, READ_TIMEOUT)
    messages = [(r.levelno, r.getMessage()) for r in records]
    warnings = [m for level, m in messages if level >= logging.WARNING]
    for message in reversed(warnings):
        http_reason = _http_reason(message, where)
        if http_reason:
            return http_reason
    for _, message in reversed(messages):
        for pattern, template in _CAUSES:
            if pattern.search(message):
                return template.format(where=where, connect=connect, read=read)
    if error is not None:
        return f"{target.service or 'apprise'} failed: {type(error).__name__}: {error}"
    if warnings:
        return warnings[-1]
    return f"{target.service or 'apprise'} reported a failure without saying why"


def send(target: Target, title: str, body: str) -> SendResult:
    """Send one message to one target and say whether it got it, and if not why.

    Blocking, and at most about ``CONNECT_TIMEOUT + READ_TIMEOUT`` per request apprise
    makes; run it in a thread (``asyncio.to_thread``) from async code. Sends to the same
    target are serialised (apprise plugins keep per-connection state); sends to
    different targets may run in parallel threads. Never raises: a failure of any kind
    is a ``SendResult(ok=False, reason=…)`` whose reason is one secret-free line.
    """
    local = redact.Redactor(target.secrets())
    try:
        plugin = target._plugin
        if plugin is None or target._sink is None:
            return SendResult(False, "no apprise service behind this target")
        error: Exception | None = None
        with (
            target._lock,
            _shared_sink().collect() as shared,
            target._sink.collect() as own,
        ):
            try:
                ok = bool(plugin.notify(body=body, title=title))
            except Exception as exc:  # a plugin bug is a failed send, not a crash
                ok, error = False, exc
        if ok:
            return SendResult(True, None)
        records = sorted(shared + own, key=lambda r: r.created)
        return SendResult(False, _one_line(_reason(target, records, error), local, redact.active()))
    except Exception as exc:  # never raise: the caller is a delivery loop
        text = f"internal error while sending: {type(exc).__name__}: {exc}"
        return SendResult(False, _one_line(text, local, redact.active()))


def send_all(
    targets: Sequence[Target], title: str, body: str, *, max_threads: int = 8
) -> Iterator[tuple[Target, SendResult]]:
    """Send to every target at once, each in its own thread, and yield ``(target,
    result)`` in the order of ``targets``, each as soon as it and those before it are
    done (so a slow target costs its own time-out, not the sum of them)."""
    if not targets:
        return
    with ThreadPoolExecutor(
        max_workers=min(max_threads, len(targets)), thread_name_prefix="notify"
    ) as pool:
        futures = [pool.submit(send, t, title, body) for t in targets]
        for target, future in zip(targets, futures, strict=True):
            yield target, future.result()
