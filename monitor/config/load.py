"""Reading the config file: the file itself, its TOML, and where the state lives.

:func:`load_config` turns every way a file can be unreadable (missing, a folder,
no permission, not UTF-8, not TOML) into one sentence naming the file and the
fix, then hands the document to :func:`monitor.config.checks.parse_config`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.config.checks import parse_config, permission_warning
from monitor.config.explain import toml_message
from monitor.config.models import Config
from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.catalogue import Catalogue  # only for a type: see monitor.config.checks

__all__ = ["load_config", "resolve_state_dir"]


def load_config(path: str | Path, *, catalogue: Catalogue | None = None) -> Config:
    """Read, parse and validate the config file at ``path``.

    Raises :class:`~monitor.errors.ConfigError` whose message names the file and,
    for each problem, the key path, what is expected and how to fix it.
    Relative paths inside the file (``state_dir``, ``[notify] config``) are
    relative to the file's folder. A file readable by other users gets a warning.
    """
    file = Path(path).expanduser()
    source = str(path)
    data = _read_toml(file, source)
    config = parse_config(data, source=source, base_dir=file.parent, catalogue=catalogue)
    warning = permission_warning(file, source, "secrets (notification URLs)")
    if warning:
        config = config.model_copy(update={"warnings": (warning, *config.warnings)})
    return config


def _read_toml(file: Path, source: str) -> dict[str, Any]:
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{source}: there is no such file. Create it from the commented example "
            f"(cp config.example.toml {source}) and edit it, or check the path you gave.",
            path=source,
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"{source}: this is a folder, not a file; give the path of the config file itself, "
            f"e.g. {Path(source) / 'config.toml'}.",
            path=source,
        ) from None
    except PermissionError:
        raise ConfigError(
            f"{source}: this file cannot be read (permission denied). Run rdv-monitor as the "
            "user who owns the file, or give that user read access "
            f"(e.g. chown {os.environ.get('USER', 'youruser')} {source} && chmod 600 {source}).",
            path=source,
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{source}: this file cannot be read ({exc.strerror or exc}).", path=source
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{source}: line {line} is not UTF-8 text. Save the file as UTF-8 "
            '(most editors offer it under "Save as…" / encoding).',
            path=source,
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(toml_message(source, text, str(exc)), path=source) from None


def resolve_state_dir(config: Config, environ: Mapping[str, str] | None = None) -> Path:
    """Where to keep state: ``[monitor] state_dir``, else ``$STATE_DIRECTORY`` (systemd's
    ``StateDirectory=``; the first entry if several), else ``$XDG_STATE_HOME/rdv-monitor``,
    else ``~/.local/state/rdv-monitor``. The folder is not created here.
    """
    env = os.environ if environ is None else environ
    if config.monitor.state_dir is not None:
        return config.monitor.state_dir
    systemd = env.get("STATE_DIRECTORY", "").split(":")[0].strip()
    if systemd:
        return Path(systemd)
    xdg = env.get("XDG_STATE_HOME", "").strip()
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "rdv-monitor"
    home = env.get("HOME", "").strip()
    home_path = Path(home) if home else Path.home()
    return home_path / ".local" / "state" / "rdv-monitor"
