"""What ``rdv-monitor validate`` prints: a config as its user reads it, secrets masked."""

from __future__ import annotations

from monitor.config import Config
from monitor.durations import format_duration

__all__ = ["describe_config"]


def describe_config(config: Config) -> str:
    """A short human summary for ``rdv-monitor validate``: watches, URLs, calendars in
    order, intervals, schedule and notification targets (masked). Never shows secrets.
    """
    m = config.monitor
    n = config.notify
    lines = [f"Configuration: {config.source}"]
    lines.append(f"  Time zone: {m.timezone}")
    lines.append(
        f"  Checks every {format_duration(m.interval)}"
        f" (+ up to {format_duration(m.jitter)} random delay)"
    )
    # A window no faster than the base interval changes nothing: listing it under
    # "Faster checks" would claim a speed-up that does not happen.
    faster = [s for s in m.surge if s.interval < m.interval]
    if faster:
        lines.append("  Faster checks: " + "; ".join(str(s) for s in faster))
    if len(faster) < len(m.surge):
        lines.append(
            f"  Surge windows not faster than every {format_duration(m.interval)} "
            "(no effect, not listed): raise their speed or remove them"
        )
    if m.releases:
        lines.append("  New slots expected: " + ", ".join(str(r) for r in m.releases))
    if m.state_dir is not None:
        lines.append(f"  State folder: {m.state_dir}")
    lines.append(f"Watches ({len(config.watches)}):")
    for number, w in enumerate(config.watches, 1):
        state = "" if w.enabled else "  [disabled]"
        lines.append(f"  {number}. {w.name}{state}")
        lines.append(f"     {w.url}")
        if w.prefecture:
            lines.append(f"     from the catalogue: {w.prefecture} / {w.procedure}")
        if w.calendars:
            names = [c.display for c in w.calendars]
            text = names[0] + (" (primary)" if len(names) > 1 else "")
            if len(names) > 1:
                text += ", then " + ", ".join(names[1:])
            lines.append(f"     calendars: {text}")
        else:
            lines.append("     calendars: the booking's only calendar")
        own = " (own setting)" if w.interval is not None else ""
        lines.append(f"     every {format_duration(config.interval_for(w))}{own}")
        if w.notify:
            lines.append(f"     notifies: {', '.join(w.notify)}")
    lines.append(f"Notifications (language {n.language}): {', '.join(n.events)}")
    if "heartbeat" in n.events:
        lines.append(f"  daily heartbeat at {n.heartbeat.strftime('%H:%M')}")
    for target in n.urls:
        tags = f"  [tags: {', '.join(target.tags)}]" if target.tags else ""
        lines.append(f"  {target.masked}{tags}")
    if n.config is not None:
        lines.append(f"  apprise config file: {n.config}")
    if not n.urls and n.config is None:
        lines.append("  (none: alerts only go to the log)")
    if config.warnings:
        lines.append("Warnings:")
        lines.extend(f"  - {w}" for w in config.warnings)
    return "\n".join(lines)
