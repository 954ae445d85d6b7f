"""Keep notification secrets out of every log line, whoever writes it.

Bot tokens, mail passwords and private topics live inside apprise URLs. Our
own code only ever prints masked URLs, but third-party libraries (apprise,
requests, urllib3) log what they like, and an exception message can quote a
request URL. So, as a last line of defence, every log record is passed through
a :class:`Redactor` that knows the secrets of the configured targets and
replaces each occurrence with ``****`` (a whole URL becomes its masked form,
which still tells two targets apart).

:func:`install` does this for the whole process: a :class:`RedactingFilter`
on every handler of the root logger, and a log-record factory so that
handlers added later (pytest's ``caplog``, a journal handler…) and handlers on
other loggers get redacted records too. There is one process-wide redactor
(:func:`active`); secrets, once known, stay redacted for the life of the
process, so a config reload never un-hides an old token in the log.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable

__all__ = ["MASK", "RedactingFilter", "Redactor", "active", "install", "uninstall"]

MASK = "****"
MIN_SECRET = 4
"""Shorter strings are ignored: replacing every "ab" in the log would destroy it, and a
secret that short is covered anyway by the longer forms it appears in (the whole URL)."""


class Redactor:
    """Replaces every known secret in a text by ``****``, and every known URL by its
    masked form (see :func:`monitor.config.mask_url`).

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
        from monitor.config import mask_url

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


def _redacting_factory(*args: object, **kwargs: object) -> logging.LogRecord:
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
