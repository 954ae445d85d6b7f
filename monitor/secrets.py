"""Every way a secret could leak, closed in one place: masking, capture and log redaction.

Bot tokens, mail passwords and private topics live inside apprise URLs. This
module is the only one that knows how to keep them out of what rdv-monitor
prints, logs or stores:

* :func:`mask_url` / :func:`mask_urls_in_text`: a URL safe to show (scheme and
  host kept, secrets replaced by ``****``);
* :func:`secrets_of`: the secret-looking parts of a URL, for a :class:`Redactor`;
* :class:`ThreadSink` / :func:`shared_sink` / :func:`private_logger`: apprise says
  what went wrong only through its logger, whose text can quote a URL, so its
  records are captured *per thread* (a thread inside :meth:`ThreadSink.collect`
  gets its own records and keeps them out of the log; other threads, possibly
  sending at the same moment, are untouched). Nothing here ever switches a
  shared logger off;
* :class:`Redactor` / :func:`install`: the last line of defence, every log record
  of the process passed through a redactor that knows the configured secrets
  (third-party libraries log what they like, an exception can quote a request
  URL). Secrets, once known, stay redacted for the life of the process, so a
  config reload never un-hides an old token in the log.

:func:`is_host` is the one test of "is this part of a URL a host name": masking
and :func:`secrets_of` must agree on it, or a token could be shown as a host.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

__all__ = [
    "MASK",
    "MIN_SECRET",
    "URL_IN_TEXT",
    "RedactingFilter",
    "Redactor",
    "ThreadSink",
    "active",
    "apprise_instance",
    "apprise_schemes",
    "install",
    "is_host",
    "mask_url",
    "mask_urls_in_text",
    "private_logger",
    "secrets_of",
    "shared_sink",
    "uninstall",
]

MASK = "****"
MIN_SECRET = 4
"""Shorter strings are ignored: replacing every "ab" in the log would destroy it, and a
secret that short is covered anyway by the longer forms it appears in (the whole URL)."""


# --------------------------------------------------------------------------- per-thread capture


class ThreadSink(logging.Filter):
    """A logger filter that keeps the records of threads that asked for them.

    While a thread is inside :meth:`collect`, the records it logs to the logger this
    filter sits on are appended to its own list and kept out of the log (their text can
    quote a URL); other threads' records pass untouched. One permanent filter per logger,
    rather than one added per send, because a logger's filter list is not safe to change
    while other threads log through it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lists: dict[int, list[logging.LogRecord]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        # The filter runs in the thread that logs: its id is the record's thread.
        records = self._lists.get(threading.get_ident())
        if records is None:
            return True
        records.append(record)
        return False

    @contextmanager
    def collect(self) -> Iterator[list[logging.LogRecord]]:
        """The records this thread logs until the block ends."""
        thread = threading.get_ident()
        outer = self._lists.get(thread)
        records: list[logging.LogRecord] = []
        self._lists[thread] = records
        try:
            yield records
        finally:
            if outer is None:
                self._lists.pop(thread, None)
            else:
                self._lists[thread] = outer
                outer.extend(records)


_apprise_sink = ThreadSink()
_sink_lock = threading.Lock()


def shared_sink() -> ThreadSink:
    """The sink on the ``apprise`` logger (installed on first use)."""
    logger = logging.getLogger("apprise")
    if _apprise_sink not in logger.filters:
        with _sink_lock:
            if _apprise_sink not in logger.filters:
                logger.addFilter(_apprise_sink)
    return _apprise_sink


def private_logger(name: str) -> tuple[logging.Logger, ThreadSink]:
    """A logger outside the logging tree (it never reaches the root handlers) that lets
    everything through to a sink, DEBUG included: DEBUG is where apprise says *why* a
    connection failed."""
    logger = logging.Logger(f"monitor.notify.apprise.{name}", logging.DEBUG)
    logger.propagate = False
    logger.addHandler(logging.NullHandler())  # no "last resort" printing to stderr
    sink = ThreadSink()
    logger.addFilter(sink)
    return logger, sink


# --------------------------------------------------------------------------- hosts and tokens

_SENSITIVE_KEYS = frozenset(
    {"pass", "password", "pwd", "secret", "token", "key", "apikey", "api_key", "access_token"}
)
_HOST_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")


def is_host(text: str) -> bool:
    """``text`` is a host name, an IP address, or either with a port."""
    host = text
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host, port = host.split(":")
        if not port.isdigit():
            return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    if host.lower() == "localhost":
        return True
    labels = host.split(".")
    return (
        len(labels) >= 2
        and all(_HOST_LABEL.match(label) for label in labels)
        and labels[-1].isalpha()
        and len(labels[-1]) >= 2
    )


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _tokenish(text: str) -> bool:
    """Looks like a credential or private id: 6+ characters mixing digits and letters, a
    number of 6+ digits (a chat id), or a long random-looking run of letters."""
    s = unquote(text).strip()
    if len(s) < 6 or is_host(s) or "@" in s:
        return False
    has_digit = any(c.isdigit() for c in s)
    has_alpha = any(c.isalpha() for c in s)
    if has_digit and (has_alpha or s.isdigit()):
        return True
    if not has_alpha:
        return False
    mixed_case = any(c.isupper() for c in s) and any(c.islower() for c in s)
    return (len(s) >= 12 and mixed_case) or (len(s) >= 16 and _entropy(s) >= 3.5)


# --------------------------------------------------------------------------- masking


def apprise_instance(url: str) -> Any:
    """apprise's plugin object for ``url``, or ``None`` if apprise does not accept it.

    Built from its one plugin module when possible (:mod:`monitor.apprise_plugins`):
    loading all of apprise's plugins costs the daemon about 10 MiB for nothing."""
    from monitor.apprise_plugins import instantiate

    with shared_sink().collect():
        try:
            return instantiate(url)
        except Exception:  # a plugin bug must not become a traceback at config time
            return None


def _mask_token(text: str) -> str:
    if len(text) <= 6 or "****" in text or "..." in text:
        return text
    return "****" + text[-2:]


def _mask_generic(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "****"
    rest = re.split(r"[?#]", rest, maxsplit=1)[0]
    authority, _, path = rest.partition("/")
    masked_auth = authority
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        user, has_pw, _pw = userinfo.partition(":")
        masked_user = _mask_token(user) + (":****" if has_pw else "")
        masked_auth = f"{masked_user}@{host if is_host(host) else _mask_token(host)}"
    elif not is_host(authority):
        masked_auth = ":".join(_mask_token(p) for p in authority.split(":"))
    segments = [_mask_token(s) for s in path.split("/")] if path else []
    out = f"{scheme}://{masked_auth}"
    if any(segments):
        out += "/" + "/".join(segments)
    return out.rstrip("/")


def mask_url(url: str) -> str:
    """A notification URL safe to print: scheme and host kept, secrets replaced by ``****``.

    apprise's own privacy form (``url(privacy=True)``, which knows where each
    service keeps its tokens) is used when apprise accepts the URL; then, as for
    any URL, the query string is dropped, passwords become ``****`` and every
    user name, token-like host or path part longer than 6 characters keeps only
    its last 2 characters (``"****89"``), enough to tell two URLs apart.
    ``tgram://123456789:AAExampleToken/987654321`` → ``tgram://1...n/****21``.
    """
    text = url.strip()
    instance = apprise_instance(text) if "://" in text else None
    if instance is not None:
        try:
            private = instance.url(privacy=True)
        except Exception:
            private = None
        if isinstance(private, str) and private:
            return _mask_generic(private)
    return _mask_generic(text)


URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>,;)\]]+")


def mask_urls_in_text(text: str) -> str:
    """``text`` with every URL-looking part in its :func:`mask_url` form.

    For quoted TOML lines in config errors and for failure reasons from apprise.
    """
    return URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)


@lru_cache(maxsize=1)
def apprise_schemes() -> dict[str, tuple[str, str | None]]:
    """Scheme → (service name, setup page) for every service apprise supports."""
    try:
        from apprise.manager_plugins import NotificationManager

        manager = NotificationManager()
        out: dict[str, tuple[str, str | None]] = {}
        for scheme in manager.schemas():
            plugin = manager[scheme]
            out[scheme] = (
                str(getattr(plugin, "service_name", scheme)),
                getattr(plugin, "setup_url", None),
            )
        return out
    except Exception:
        return {}


def _privacy_diff(url: str) -> list[str]:
    """The parts apprise itself hides in ``url(privacy=True)``: it knows where each
    service keeps its tokens, even when they do not look like tokens."""

    plugin = apprise_instance(url)
    if plugin is None:
        return []
    with shared_sink().collect():
        try:
            full, private = plugin.url(), plugin.url(privacy=True)
        except Exception:
            return []
    split = re.compile(r"[/?&=@:#]")
    shown = set(split.split(unquote(private)))
    return [part for part in split.split(unquote(full)) if len(part) >= 4 and part not in shown]


def secrets_of(url: str) -> list[str]:
    """The secret-looking parts of an apprise URL, each also in its %-encoded and decoded
    forms, the whole URL first: the password, a user name that looks like a token, a
    token-like host (``tgram://<bot token>/…``), token-like path segments and query
    values (or any value of a ``token``/``password``/``key`` parameter), and whatever
    apprise's own privacy form of the URL hides. Used to build a log
    :class:`Redactor`; never print the result.
    """
    text = url.strip()
    found: list[str] = [text] if text else []
    _, sep, rest = text.partition("://")
    if not sep:
        return found
    rest = rest.split("#", 1)[0]
    rest, _, query = rest.partition("?")
    authority, _, path = rest.partition("/")
    host = authority
    parts: list[str] = []
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        user, has_password, password = userinfo.partition(":")
        if has_password and len(unquote(password)) >= MIN_SECRET:
            found.append(password)
        parts.append(user)
    if not is_host(host):
        parts.append(host)
    for segment in path.split("/"):
        parts.append(segment)
        if ":" in segment:
            parts.extend(segment.split(":"))
    if not is_host(host):
        parts.extend(host.split(":"))
    found.extend(p for p in parts if _tokenish(p))
    for key, value in parse_qsl(query, keep_blank_values=False):
        sensitive = key.lower() in _SENSITIVE_KEYS and len(value) >= MIN_SECRET
        if sensitive or _tokenish(value):
            found.append(value)
    found.extend(_privacy_diff(text))
    out: list[str] = []
    for secret in found:
        for form in (secret, unquote(secret), quote(unquote(secret), safe="")):
            if form and form not in out and (form == text or len(form) >= MIN_SECRET):
                out.append(form)
    return out


# --------------------------------------------------------------------------- log redaction


class Redactor:
    """Replaces every known secret in a text by ``****``, and every known URL by its
    masked form (see :func:`mask_url`).

    Matching is done in one pass with the longest secrets first, so a whole URL is
    replaced before the token inside it, and a replacement is never re-scanned.
    Thread-safe: :meth:`add` may run while other threads redact.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._masked_urls: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        self._replacements: dict[str, str] = {}
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Learn more secrets. Strings shorter than 4 characters are ignored; a string
        containing ``://`` is a URL and is replaced by its masked form."""
        fresh = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET}
        with self._lock:
            fresh -= self._secrets
            if not fresh:
                return
            self._secrets |= fresh
            self._compile()

    def __len__(self) -> int:
        return len(self._secrets)

    def __repr__(self) -> str:  # never the secrets themselves
        return f"<Redactor of {len(self._secrets)} secrets>"

    def __call__(self, text: str) -> str:
        """``text`` with every known secret hidden."""
        pattern, replacements = self._pattern, self._replacements
        if pattern is None or not text:
            return text
        return pattern.sub(lambda m: replacements[m.group(0)], text)

    # ---- internals (called with the lock held)

    def _compile(self) -> None:
        plain = sorted((s for s in self._secrets if "://" not in s), key=len, reverse=True)
        plain_re = re.compile("|".join(map(re.escape, plain))) if plain else None
        replacements = dict.fromkeys(plain, MASK)
        for url in (s for s in self._secrets if "://" in s):
            if url not in self._masked_urls:
                self._masked_urls[url] = mask_url(url)
            masked = self._masked_urls[url]
            # mask_url keeps short parts readable; a short part we consider secret
            # must not survive in the masked form.
            replacements[url] = plain_re.sub(MASK, masked) if plain_re else masked
        ordered = sorted(replacements, key=len, reverse=True)
        pattern = re.compile("|".join(map(re.escape, ordered)))
        # Publish the pair together: readers take a reference to each without locking.
        self._replacements = replacements
        self._pattern = pattern


def _redact_record(record: logging.LogRecord, redactor: Redactor) -> None:
    """Format ``record``'s message, redact it and freeze it (``args`` = ``None``), and the
    same for its traceback and stack text. Idempotent."""
    if not len(redactor):
        return
    try:
        message = record.getMessage()
    except Exception:  # bad format arguments: keep both parts, redacted, not the error
        message = f"{record.msg} {record.args!r}"
    record.msg = redactor(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redactor(record.exc_text)
    if record.stack_info:
        record.stack_info = redactor(record.stack_info)


class RedactingFilter(logging.Filter):
    """A handler filter that rewrites each record with its secrets hidden; never drops one.

    The message is formatted first (``msg % args``) and then redacted, because a secret
    usually arrives through the arguments. The record is changed in place, so every
    handler after this one sees the redacted text too.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record, self.redactor)
        return True


_active = Redactor()
_state_lock = threading.Lock()
_previous_factory: Callable[..., logging.LogRecord] | None = None


def active() -> Redactor:
    """The process-wide redactor: the one :func:`install` put in place (empty before).

    Use it on any text that leaves the process outside logging, e.g. an error paragraph.
    """
    return _active


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    factory = _previous_factory or logging.LogRecord  # None once uninstalled under a wrapper
    record = factory(*args, **kwargs)
    _redact_record(record, _active)
    return record


def install(redactor: Redactor, logger: logging.Logger | None = None) -> None:
    """Redact every log line of the process with ``redactor`` from now on.

    * ``redactor`` becomes :func:`active`; the secrets of the redactor it replaces are
      added to it (a secret once known stays hidden);
    * every handler of ``logger`` (default: the root logger) gets a
      :class:`RedactingFilter` (or its existing one is pointed at ``redactor``);
    * a log-record factory redacts each record as it is created, which covers
      handlers added later and handlers attached to other loggers.

    Calling it again (a config reload) is safe: nothing is installed twice.
    """
    global _active, _previous_factory
    with _state_lock:
        if redactor is not _active:
            redactor.add(*_active._secrets)
            _active = redactor
        for handler in (logger or logging.getLogger()).handlers:
            mine = [f for f in handler.filters if isinstance(f, RedactingFilter)]
            for existing in mine:
                existing.redactor = redactor
            if not mine:
                handler.addFilter(RedactingFilter(redactor))
        if _previous_factory is None:
            _previous_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_redacting_factory)


def uninstall(logger: logging.Logger | None = None) -> None:
    """Undo :func:`install` (for tests): remove the filters and the record factory and
    forget the secrets."""
    global _active, _previous_factory
    with _state_lock:
        for handler in (logger or logging.getLogger()).handlers:
            for f in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
                handler.removeFilter(f)
        if _previous_factory is not None:
            if logging.getLogRecordFactory() is _redacting_factory:
                logging.setLogRecordFactory(_previous_factory)
            _previous_factory = None
        _active = Redactor()
