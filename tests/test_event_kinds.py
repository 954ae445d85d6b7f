"""Event kinds own what they are: the config, the delivery worker and the notifier
derive their lists from the registry, so a new kind is one module.

A fake kind registered here (as a contributor's new module would) is selectable,
grouped per watch, checked in templates and rendered in its own words, with no
other module touched; and the ``test`` message of ``notify-test`` is a kind whose
``[notify.templates.test]`` reaches a local receiver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config import Template
from monitor.events import (
    KINDS,
    Event,
    EventKind,
    Message,
    Words,
    Written,
    dedup_key,
    default_kinds,
    register,
    selectable_kinds,
    template_problem,
)
from monitor.notify import delivery, render, test_message
from tests.conftest import CliResult
from tests.receiver import LocalTarget

PARIS = ZoneInfo("Europe/Paris")
SEEN = datetime(2025, 12, 8, 7, 0, 14, tzinfo=UTC)  # Monday 08:00:14 in Paris
NOW = SEEN + timedelta(seconds=6)


def _write_queue(event: Event, words: Words, gone_at: datetime | None) -> Written:
    seen = words.at(event.time("seen_at"), seconds=True)
    people = event.payload.get("people", "?")
    values: dict[str, object] = {"people": people, "seen_at": seen}
    return Written(Message(words.say("title"), words.say("body", people=people, seen=seen)), values)


@pytest.fixture
def queue_kind() -> Iterator[EventKind]:
    """A new kind, as a contributor's ``monitor/events/queue_long.py`` would register it."""
    kind = register(
        EventKind(
            "queue_long",
            "The prefecture's waiting room is long.",
            _write_queue,
            fields=("people", "seen_at"),
            placeholders={"people": "how many wait", "seen_at": "when it was seen"},
            grouped=True,
            words={
                "fr": {
                    "title": "File d'attente",
                    "body": "{people} personnes attendent, vu {seen}.",
                },
                "en": {"title": "Queue", "body": "{people} people waiting, seen {seen}."},
            },
        )
    )
    yield kind
    del KINDS[kind.name]  # registration is process-wide: leave the registry as found


def queue_event() -> Event:
    key = dedup_key("queue_long", "R", "", SEEN)
    return Event(
        1, "queue_long", "R", "", SEEN, None, key, {"people": 42, "seen_at": SEEN.isoformat()}
    )


def test_a_new_kind_is_selectable_but_off_by_default(queue_kind: EventKind) -> None:
    assert "queue_long" in selectable_kinds()
    assert "queue_long" not in default_kinds()
    assert "test" not in selectable_kinds()
    assert set(default_kinds()) == {"slot_opened", "trouble", "recovered", "layout_changed"}


def test_a_new_grouped_kind_is_grouped_by_the_delivery_worker(queue_kind: EventKind) -> None:
    assert "queue_long" in delivery.GROUPED
    assert {"trouble", "recovered", "layout_changed"} <= set(delivery.GROUPED)
    assert "slot_opened" not in delivery.GROUPED


def test_a_new_kind_checks_its_templates(queue_kind: EventKind) -> None:
    assert template_problem("queue_long", "{people} at {seen_at}") is None
    problem = template_problem("queue_long", "{peple}")
    assert problem is not None and "use one of {people}, {seen_at}" in problem
    assert "Did you mean {people}?" in problem


def test_a_new_kind_renders_in_its_own_words(queue_kind: EventKind) -> None:
    fr = render(queue_event(), tz=PARIS, now=NOW)
    assert fr == Message("File d'attente", "42 personnes attendent, vu à 08:00:14.")
    en = render(queue_event(), language="en", tz=PARIS, now=NOW)
    assert en == Message("Queue", "42 people waiting, seen at 08:00:14.")
    templates = {"queue_long": Template(title="{people} en file")}
    assert render(queue_event(), templates=templates, tz=PARIS, now=NOW).title == "42 en file"


def test_an_unknown_kind_is_refused_in_templates_naming_the_known_ones() -> None:
    problem = template_problem("queue_long", "{people}")
    assert problem is not None and problem.startswith('"queue_long" is not an event;')
    assert "slot_opened" in problem and "test" in problem


def test_the_test_message_is_a_kind_with_a_template() -> None:
    templates = {"test": Template(title="Essai {sent_at}", body="Ça marche.")}
    message = test_message("fr", now=NOW, tz=PARIS, templates=templates)
    assert message == Message("Essai 08:00:20", "Ça marche.")
    assert template_problem("test", "{sent_at}") is None


def test_notify_test_sends_the_test_template_to_a_local_receiver(
    cli: Callable[..., CliResult], write_config: Callable[..., Path]
) -> None:
    with LocalTarget() as receiver:
        watch = {"name": "R", "url": "http://127.0.0.1:9/booking/create/29396"}
        notify = {
            "urls": [receiver.url],
            "templates": {"test": {"title": "Essai rdv-monitor", "body": "Envoyé à {sent_at}"}},
        }
        result = cli("notify-test", "-c", str(write_config([watch], notify=notify)))
        assert result.code == 0, result
        assert receiver.wait_for(1)
        (message,) = receiver.messages
    assert message["title"] == "Essai rdv-monitor"
    assert message["message"].startswith("Envoyé à ")
