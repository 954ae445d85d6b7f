"""Notification messages: what a person reads on a phone lock screen, in French and English.

Each test builds realistic events (the payloads ``monitor.transitions`` writes, per
``monitor.events``) and checks what the person needs: the slot date and count, the
link, when it was seen, that it goes fast, what is wrong and what to do; and that
titles and first lines fit a lock screen, templates work, and a bad template is
refused by the config with a precise message.
"""

from __future__ import annotations

import locale
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.config import Template, load_config, parse_config
from monitor.errors import ConfigError
from monitor.events import Event, state_trouble_event
from monitor.events.writing import clip
from monitor.notify.messages import (
    FIRST_LINE_LIMIT,
    PLACEHOLDER_HELP,
    PLACEHOLDERS,
    TITLE_LIMIT,
    Message,
    format_date,
    render,
    template_problem,
    test_message,
    unknown_placeholders,
)

PARIS = ZoneInfo("Europe/Paris")
URL = "https://www.haute-savoie.gouv.fr/booking/create/29396"
WATCH = "Renouvellement titre de séjour"
SITE = "haute-savoie.gouv.fr – "
"""How titles name the site of :data:`URL` in a whole-site outage."""
LABEL = "Calendrier 3.2 - Rendez-vous supplémentaires renouvellement"
# Monday 8 December 2025, 08:00:14 in Paris (UTC+1): a Monday release.
SEEN = datetime(2025, 12, 8, 7, 0, 14, tzinfo=UTC)
NOW = SEEN + timedelta(seconds=6)
FIRST_SLOT = datetime(2025, 12, 9, 8, 0, tzinfo=UTC)  # Tue 9 Dec 09:00 in Paris


def iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).isoformat(timespec="seconds")


def common(status: str, seen: datetime = SEEN, **more: Any) -> dict[str, Any]:
    """The payload keys of every calendar event, as ``transitions._common`` writes them."""
    payload = {
        "watch": WATCH,
        "calendar": "3.2",
        "label": LABEL,
        "url": URL,
        "status": status,
        "detail": "The page says so.",
        "http_status": 200,
        "seen_at": iso(seen),
    }
    payload.update(more)
    return payload


def event(kind: str, payload: dict[str, Any], at: datetime = SEEN) -> Event:
    return Event(
        id=7,
        kind=kind,
        watch=payload.get("watch", ""),
        calendar=payload.get("calendar", ""),
        created_at=at,
        episode_id=3,
        dedup_key=f"[{kind!r}]",
        payload=payload,
    )


def opened(count: int | None = 3, slots: list[datetime] | None = None, **more: Any) -> Event:
    if slots is None:
        slots = [FIRST_SLOT, FIRST_SLOT + timedelta(minutes=30), FIRST_SLOT + timedelta(days=1)]
    payload = common(
        "available",
        detail="Step 4 « Choix d'une plage horaire » shows 3 free slots.",
        planning_id=24981,
        opened_at=iso(SEEN),
        first_slot=iso(slots[0]) if slots else None,
        slot_count=count,
        slots=[iso(s) for s in slots],
    )
    payload.update(more)
    return event("slot_opened", payload)


def gone(**more: Any) -> Event:
    ended = SEEN + timedelta(minutes=3, seconds=26)
    payload = common(
        "full",
        seen=ended,
        opened_at=iso(SEEN),
        last_seen_at=iso(ended - timedelta(seconds=30)),
        duration_s=206,
        first_slot=iso(FIRST_SLOT),
        slot_count=3,
        slots=[iso(FIRST_SLOT)],
    )
    payload.update(more)
    return event("slot_gone", payload, ended)


SINCE = datetime(2025, 12, 8, 6, 42, tzinfo=UTC)  # 07:42 in Paris


def trouble(status: str, http_status: int | None, **more: Any) -> Event:
    crossed = SINCE + timedelta(minutes=15)
    payload = common(
        status,
        seen=crossed,
        http_status=http_status,
        detail="The server answered 503 Service Unavailable.",
        since=iso(SINCE),
        first_status=status,
        duration_s=900,
        bad_checks=4,
        last_good=iso(SINCE - timedelta(minutes=5)),
    )
    payload.update(more)
    return event("trouble", payload, crossed)


def recovered(trouble_status: str = "down", **more: Any) -> Event:
    ended = SINCE + timedelta(minutes=47)
    payload = common(
        "full",
        seen=ended,
        since=iso(SINCE),
        trouble_status=trouble_status,
        duration_s=47 * 60,
        bad_checks=12,
    )
    payload.update(more)
    return event("recovered", payload, ended)


PAGE_FILE = "20251208T064200Z-renouvellement-titre-de-sejour-3-2.html"


def layout(**more: Any) -> Event:
    payload = common(
        "unknown",
        seen=SINCE,
        http_status=200,
        since=iso(SINCE),
        page_file=PAGE_FILE,
        page_size=49152,
    )
    payload.update(more)
    return event("layout_changed", payload, SINCE)


def heartbeat(**more: Any) -> Event:
    until = datetime(2025, 12, 8, 8, 0, tzinfo=UTC)
    payload: dict[str, Any] = {
        "since": iso(until - timedelta(hours=24)),
        "until": iso(until),
        "checks": {"full": 280, "down": 3},
        "watches": [WATCH],
        "last_slot_seen": iso(SEEN),
        "last_slot_calendar": "3.2",
        "last_slot_watch": WATCH,
        "url": URL,
    }
    payload.update(more)
    return Event(None, "heartbeat", "", "", until, None, "hb:2025-12-08", payload)


def fr(ev: Event, **kw: Any) -> Message:
    return render(ev, language="fr", tz=PARIS, now=kw.pop("now", NOW), **kw)


def en(ev: Event, **kw: Any) -> Message:
    return render(ev, language="en", tz=PARIS, now=kw.pop("now", NOW), **kw)


def lines(message: Message) -> list[str]:
    return message.body.split("\n")


# --------------------------------------------------------------------------- slot_opened


def test_slot_opened_french_puts_date_count_link_and_urgency_first() -> None:
    m = fr(opened())
    assert m.title == "Créneau libre : 3.2 – Renouvellement titre de séjour"
    assert lines(m) == [
        "3 créneaux dès le mar. 9 déc. à 09:00",
        URL,
        "Vu à 08:00:14. Réservez vite : ils partent en quelques minutes.",
        LABEL,
    ]


def test_slot_opened_english() -> None:
    m = en(opened())
    assert m.title == "Slot open: 3.2 – Renouvellement titre de séjour"
    assert lines(m) == [
        "3 slots from Tue 9 Dec 09:00",
        URL,
        "Seen at 08:00:14. Book now: slots go within minutes.",
        LABEL,
    ]


def test_slot_opened_without_dates_says_the_dates_could_not_be_read() -> None:
    ev = opened(count=None, slots=[])
    assert lines(fr(ev))[0] == "Des créneaux sont ouverts, mais leurs dates n'ont pas pu être lues"
    assert lines(en(ev))[0] == "Slots are open, but their dates could not be read"
    assert URL in lines(fr(ev)) and URL in lines(en(ev))


def test_slot_opened_with_a_count_but_no_dates() -> None:
    ev = opened(count=2, slots=[])
    assert lines(fr(ev))[0] == "2 créneaux libres (dates non affichées)"
    assert lines(en(ev))[0] == "2 slots open (dates not shown)"


def test_a_single_slot_is_singular() -> None:
    ev = opened(count=1, slots=[FIRST_SLOT])
    assert lines(fr(ev))[0] == "1 créneau le mar. 9 déc. à 09:00"
    assert lines(en(ev))[0] == "1 slot: Tue 9 Dec 09:00"


def test_slot_opened_without_label_has_no_empty_line() -> None:
    ev = opened(label=None)
    assert "" not in lines(fr(ev)) and len(lines(fr(ev))) == 3


def test_single_counter_booking_is_named_by_its_watch() -> None:
    ev = opened(calendar="", label=None)
    assert fr(ev).title == "Créneau libre : Renouvellement titre de séjour"
    assert en(ev).title == "Slot open: Renouvellement titre de séjour"


def test_seen_on_another_day_shows_the_date() -> None:
    later = NOW + timedelta(days=1)
    assert "Vu le lun. 8 déc. à 08:00:14." in fr(opened(), now=later).body
    assert "Seen on Mon 8 Dec 08:00:14." in en(opened(), now=later).body


def test_late_slot_opened_says_it_is_already_gone_with_the_link() -> None:
    left = SEEN + timedelta(minutes=3, seconds=26)
    m = fr(opened(), gone_at=left, now=left + timedelta(minutes=5))
    assert m.title == "Créneau (déjà reparti) : 3.2 – Renouvellement titre de séjour"
    assert lines(m)[0] == (
        "Créneaux vus à 08:00:14, repartis à 08:03:40 — 3 créneaux dès le mar. 9 déc. à 09:00"
    )
    assert URL in lines(m)
    assert "réapparaître" in m.body and "Réservez vite" not in m.body

    m = en(opened(), gone_at=left, now=left + timedelta(minutes=5))
    assert m.title == "Slot (already gone): 3.2 – Renouvellement titre de séjour"
    assert lines(m)[0] == (
        "Slots seen at 08:00:14, gone at 08:03:40 — 3 slots from Tue 9 Dec 09:00"
    )
    assert URL in lines(m) and "reappear" in m.body


def test_late_single_slot_and_unknown_count_wording() -> None:
    left = SEEN + timedelta(minutes=2)
    one = fr(opened(count=1, slots=[FIRST_SLOT]), gone_at=left)
    assert lines(one)[0].startswith("Créneau vu à 08:00:14, reparti à 08:02:14 — 1 créneau")
    unknown = fr(opened(count=None, slots=[]), gone_at=left)
    assert lines(unknown)[0].endswith("— dates illisibles")
    assert lines(en(opened(count=None, slots=[]), gone_at=left))[0].endswith(
        "— dates could not be read"
    )


# --------------------------------------------------------------------------- slot_gone


def test_slot_gone_is_short_with_how_long_it_stayed() -> None:
    m = fr(gone())
    assert m.title == "Créneaux repartis : 3.2 – Renouvellement titre de séjour"
    assert lines(m)[0] == "3.2 : créneaux repartis à 08:03:40 (ouverts 3 min 26 s)"
    m = en(gone())
    assert m.title == "Slots gone: 3.2 – Renouvellement titre de séjour"
    assert lines(m)[0] == "3.2: slots gone at 08:03:40 (open 3 min 26 s)"


@pytest.mark.parametrize(
    ("seconds", "french", "english"),
    [
        (42, "42 s", "42 s"),
        (206, "3 min 26 s", "3 min 26 s"),
        (47 * 60 + 12, "47 min", "47 min"),
        (3600 + 5 * 60, "1 h 5 min", "1 h 5 min"),
        (2 * 86400 + 3 * 3600, "2 j 3 h", "2 d 3 h"),
    ],
)
def test_durations_read_naturally(seconds: int, french: str, english: str) -> None:
    assert f"(ouverts {french})" in fr(gone(duration_s=seconds)).body
    assert f"(open {english})" in en(gone(duration_s=seconds)).body


# --------------------------------------------------------------------------- trouble

TROUBLE_CASES = [
    (
        "down",
        503,
        "Site en panne : ",
        "Le site de la préfecture répond par une erreur 503 depuis 07:42.",
        "rdv-monitor continue d'essayer : rien à faire.",
        "Site down: ",
        "The prefecture's site has been answering with error 503 since 07:42.",
        "rdv-monitor keeps trying: nothing to do.",
    ),
    (
        "down",
        None,
        "Site en panne : ",
        "Le site de la préfecture ne répond pas depuis 07:42.",
        "rdv-monitor continue d'essayer : rien à faire.",
        "Site down: ",
        "The prefecture's site has not been answering since 07:42.",
        "rdv-monitor keeps trying: nothing to do.",
    ),
    (
        "blocked",
        429,
        "Accès refusé : ",
        "La préfecture refuse nos requêtes (erreur 429) depuis 07:42.",
        "Vérifiez que rien d'autre n'interroge le site depuis cette connexion ; "
        "rdv-monitor ralentit.",
        "Blocked: ",
        "The prefecture has been refusing our requests (error 429) since 07:42.",
        "Check that nothing else polls the site from this connection; rdv-monitor is slowing down.",
    ),
    (
        "captcha",
        200,
        "Captcha : ",
        "Un captcha bloque la consultation depuis 07:42.",
        "Ouvrez le lien et regardez vous-même :",
        "Captcha: ",
        "A captcha has been blocking the calendar since 07:42.",
        "Open the link and look yourself:",
    ),
    (
        "unknown",
        200,
        "Page inconnue : ",
        "La préfecture affiche une page inconnue depuis 07:42 : le site a peut-être changé.",
        "Ouvrez le lien ; si la page a changé, mettez rdv-monitor à jour.",
        "Unknown page: ",
        "The site has been showing an unknown page since 07:42: it may have changed.",
        "Open the link; if the page has changed, update rdv-monitor.",
    ),
]


@pytest.mark.parametrize(
    (
        "status",
        "code",
        "fr_title",
        "fr_problem",
        "fr_advice",
        "en_title",
        "en_problem",
        "en_advice",
    ),
    TROUBLE_CASES,
)
def test_trouble_says_what_is_wrong_since_when_and_what_to_do(
    status: str,
    code: int | None,
    fr_title: str,
    fr_problem: str,
    fr_advice: str,
    en_title: str,
    en_problem: str,
    en_advice: str,
) -> None:
    ev = trouble(status, code)
    # A whole-site outage (down, blocked) names the site; trouble of one calendar, the calendar.
    where = SITE if status in ("down", "blocked") else "3.2 – "
    m = fr(ev)
    assert m.title == clip(fr_title + where + WATCH, TITLE_LIMIT)
    assert lines(m) == [fr_problem, fr_advice, URL]
    m = en(ev)
    assert m.title == clip(en_title + where + WATCH, TITLE_LIMIT)
    assert lines(m) == [en_problem, en_advice, URL]


def test_trouble_since_yesterday_shows_the_date() -> None:
    ev = trouble("down", None, since=iso(SINCE - timedelta(days=1)))
    assert "ne répond pas depuis le dim. 7 déc. à 07:42." in fr(ev).body
    assert "not been answering since Sun 7 Dec 07:42." in en(ev).body


# --------------------------------------------------------------------------- recovered


@pytest.mark.parametrize(
    ("was", "french", "english"),
    [
        ("down", "le site était en panne", "site was down"),
        ("blocked", "la préfecture refusait nos requêtes", "the prefecture was refusing our"),
        ("captcha", "un captcha bloquait la consultation", "a captcha was in the way"),
        ("unknown", "la page n'était pas reconnue", "the page was not recognised"),
    ],
)
def test_recovered_says_how_long_and_what_it_was(was: str, french: str, english: str) -> None:
    short = "haute-savoie.gouv.fr" if was in ("down", "blocked") else "3.2"
    where = SITE if was in ("down", "blocked") else "3.2 – "
    m = fr(recovered(was))
    assert m.title == clip("Rétabli : " + where + WATCH, TITLE_LIMIT)
    assert lines(m)[0] == f"{short} : retour à la normale après 47 min ({french})."
    m = en(recovered(was))
    assert m.title == clip("Back to normal: " + where + WATCH, TITLE_LIMIT)
    assert lines(m)[0].startswith(f"{short}: back to normal after 47 min ({english}")


def test_recovered_exact_english_line_and_current_state() -> None:
    assert lines(en(recovered("captcha")))[0] == (
        "3.2: back to normal after 47 min (a captcha was in the way)."
    )
    assert lines(en(recovered()))[0] == (
        "haute-savoie.gouv.fr: back to normal after 47 min (site was down)."
    )
    assert "Calendar full" in en(recovered()).body
    assert "Des créneaux sont ouverts" in fr(recovered(status="available")).body


# --------------------------------------------------------------------------- layout_changed


def test_layout_changed_names_the_saved_page_and_what_to_do() -> None:
    m = fr(layout(), now=SINCE + timedelta(minutes=1))
    assert m.title == "Page changée : 3.2 – Renouvellement titre de séjour"
    assert lines(m)[0] == "3.2 : la page de réservation est différente depuis 07:42."
    assert f"pages/{PAGE_FILE} dans le dossier d'état" in m.body
    assert "mettez rdv-monitor à jour" in m.body and lines(m)[-1] == URL

    m = en(layout(), now=SINCE + timedelta(minutes=1))
    assert m.title == "Page changed: 3.2 – Renouvellement titre de séjour"
    assert lines(m)[0] == "3.2: the booking page has looked different since 07:42."
    assert f"Saved as pages/{PAGE_FILE} in the state directory." in m.body
    assert "update rdv-monitor" in m.body and lines(m)[-1] == URL


def test_layout_changed_when_the_page_could_not_be_saved() -> None:
    ev = layout(page_file=None, page_size=None, page_error="disk full")
    assert "La page n'a pas pu être enregistrée (disk full)." in fr(ev).body
    assert "The page could not be saved (disk full)." in en(ev).body


# --------------------------------------------------------------------------- heartbeat


def test_heartbeat_counts_checks_and_last_slot() -> None:
    m = fr(heartbeat(), now=datetime(2025, 12, 8, 8, 0, tzinfo=UTC))
    assert m.title == "rdv-monitor tourne (rapport quotidien)"
    assert lines(m) == [
        "rdv-monitor tourne : 283 vérifications en 24 h (complet : 280, en panne : 3)",
        "Dernier créneau vu le lun. 8 déc. à 08:00 sur 3.2",
        "Surveillé : Renouvellement titre de séjour",
        URL,
    ]
    m = en(heartbeat(), now=datetime(2025, 12, 8, 8, 0, tzinfo=UTC))
    assert m.title == "rdv-monitor is running (daily report)"
    assert lines(m)[:2] == [
        "rdv-monitor is running: 283 checks in 24 h (280 full, 3 down)",
        "Last slot seen Mon 8 Dec 08:00 on 3.2",
    ]


def test_heartbeat_without_slot_or_checks_says_so() -> None:
    ev = heartbeat(checks={}, last_slot_seen=None, last_slot_calendar=None, url=None)
    m = fr(ev)
    assert lines(m)[0] == "rdv-monitor tourne mais n'a fait aucune vérification en 24 h"
    assert "Vérifiez la configuration" in m.body and "Aucun créneau vu jusqu'ici." in m.body
    m = en(ev)
    assert lines(m)[0] == "rdv-monitor is running but made no check in 24 h"
    assert "No slot seen so far." in m.body


def test_heartbeat_orders_statuses_by_count_and_names_the_watch_when_several() -> None:
    ev = heartbeat(
        checks={"down": 3, "full": 270, "available": 2, "blocked": 0, "captcha": 8},
        watches=["Renouvellement", "Premier titre"],
        last_slot_watch="Premier titre",
        last_slot_calendar="1.2",
    )
    m = en(ev)
    assert lines(m)[0].endswith("283 checks in 24 h (270 full, 8 captcha, 3 down, 2 available)")
    assert lines(m)[1].endswith("on 1.2 (Premier titre)")
    assert "Watching: Renouvellement, Premier titre" in m.body


# --------------------------------------------------------------------------- test


def test_test_message_in_both_languages() -> None:
    m = test_message("fr", now=NOW, tz=PARIS)
    assert m.title == "rdv-monitor : message de test"
    assert "Si vous lisez ceci, les notifications fonctionnent" in m.body
    assert "08:00:20" in m.body
    m = test_message("en", now=NOW, tz=PARIS)
    assert m.title == "rdv-monitor: test message"
    assert m.body.startswith("If you read this, notifications work")


# --------------------------------------------------------------------------- lengths

LONG_WATCH = "Renouvellement de carte de séjour pluriannuelle — sous-préfecture de Thonon-les-Bains"


def every_event(watch: str = WATCH, calendar: str = "3.2") -> list[Event]:
    more = {"watch": watch, "calendar": calendar}
    return [
        opened(**more),
        opened(count=None, slots=[], **more),
        gone(**more),
        *(trouble(status, code, **more) for status, code, *_ in TROUBLE_CASES),
        recovered(**more),
        layout(**more),
        heartbeat(last_slot_watch=watch, last_slot_calendar=calendar, watches=[watch, "B"]),
    ]


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("watch", [WATCH, LONG_WATCH, "x" * 300])
@pytest.mark.parametrize("calendar", ["3.2", "", "planning 24980"])
def test_titles_and_first_lines_fit_a_lock_screen(language: str, watch: str, calendar: str) -> None:
    later = SEEN + timedelta(days=3)  # dates instead of times: the longest wording
    for ev in every_event(watch, calendar):
        for kw in ({}, {"gone_at": SEEN + timedelta(minutes=4)}):
            m = render(ev, language=language, tz=PARIS, now=later, **kw)
            assert len(m.title) <= TITLE_LIMIT, m.title
            assert len(lines(m)[0]) <= FIRST_LINE_LIMIT, lines(m)[0]
            assert m.body.strip() and "\n\n" not in m.body
    for lang in ("fr", "en"):
        m = test_message(lang, now=NOW, tz=PARIS)
        assert len(m.title) <= TITLE_LIMIT and len(lines(m)[0]) <= FIRST_LINE_LIMIT


def test_long_watch_name_is_shortened_and_the_calendar_kept() -> None:
    m = fr(opened(watch=LONG_WATCH))
    assert len(m.title) == TITLE_LIMIT
    assert m.title.startswith("Créneau libre : 3.2 – Renouvellement de carte")
    assert m.title.endswith("…")


# --------------------------------------------------------------------------- dates


def test_every_french_day_and_month_name() -> None:
    days = [format_date(datetime(2025, 12, d, 9, tzinfo=PARIS), "fr", PARIS) for d in range(8, 15)]
    assert days == [
        "lun. 8 déc. à 09:00",
        "mar. 9 déc. à 09:00",
        "mer. 10 déc. à 09:00",
        "jeu. 11 déc. à 09:00",
        "ven. 12 déc. à 09:00",
        "sam. 13 déc. à 09:00",
        "dim. 14 déc. à 09:00",
    ]
    months = [
        format_date(datetime(2026, m, 1, 9, tzinfo=PARIS), "fr", PARIS).split()[2]
        for m in range(1, 13)
    ]
    assert months == [
        "janv.",
        "févr.",
        "mars",
        "avr.",
        "mai",
        "juin",
        "juil.",
        "août",
        "sept.",
        "oct.",
        "nov.",
        "déc.",
    ]
    assert format_date(datetime(2026, 8, 4, 14, 30, tzinfo=PARIS), "en", PARIS) == "Tue 4 Aug 14:30"


def test_times_are_shown_in_the_configured_time_zone_across_dst() -> None:
    summer = datetime(2026, 7, 6, 6, 0, tzinfo=UTC)  # 08:00 in Paris (UTC+2)
    winter = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)  # 08:00 in Paris (UTC+1)
    assert format_date(summer, "fr", PARIS) == "lun. 6 juil. à 08:00"
    assert format_date(winter, "fr", PARIS) == "lun. 5 janv. à 08:00"
    reunion = ZoneInfo("Indian/Reunion")
    assert format_date(winter, "en", reunion) == "Mon 5 Jan 11:00"


def test_a_date_far_away_shows_its_year() -> None:
    far = datetime(2026, 12, 8, 8, tzinfo=UTC)
    assert format_date(far, "fr", PARIS, now=NOW) == "mar. 8 déc. 2026 à 09:00"
    assert format_date(FIRST_SLOT, "fr", PARIS, now=NOW) == "mar. 9 déc. à 09:00"


@pytest.fixture
def foreign_locale() -> Iterator[str]:
    """The process's LC_TIME switched to another language (or C), restored afterwards."""
    saved = locale.setlocale(locale.LC_TIME)
    chosen = "C"
    for name in ("de_DE.UTF-8", "en_US.UTF-8", "C.UTF-8", "C"):
        try:
            locale.setlocale(locale.LC_TIME, name)
        except locale.Error:
            continue
        chosen = name
        break
    try:
        yield chosen
    finally:
        locale.setlocale(locale.LC_TIME, saved)


def test_french_dates_do_not_depend_on_the_system_locale(foreign_locale: str) -> None:
    assert lines(fr(opened()))[0] == "3 créneaux dès le mar. 9 déc. à 09:00", foreign_locale
    assert lines(en(opened()))[0] == "3 slots from Tue 9 Dec 09:00", foreign_locale


# --------------------------------------------------------------------------- templates


def test_template_overrides_title_and_body_with_placeholders() -> None:
    templates = {
        "slot_opened": Template(
            title="RDV {calendar} !",
            body="{slot_count} créneau(x), premier {first_slot} → {url} (vu {seen_at})",
        )
    }
    m = render(opened(), language="fr", templates=templates, tz=PARIS, now=NOW)
    assert m == Message(
        "RDV 3.2 !",
        f"3 créneau(x), premier mar. 9 déc. à 09:00 → {URL} (vu 08:00:14)",
    )
    m = render(opened(count=None, slots=[]), templates=templates, tz=PARIS, now=NOW)
    assert m.body.startswith("? créneau(x), premier ?")


def test_missing_override_falls_back_to_the_built_in_text() -> None:
    templates = {"trouble": Template(title="Souci sur {calendar}")}
    m = render(trouble("down", 503), templates=templates, tz=PARIS, now=NOW)
    assert m.title == "Souci sur 3.2"
    assert m.body == fr(trouble("down", 503)).body
    assert render(opened(), templates=templates, tz=PARIS, now=NOW) == fr(opened())


def test_templates_use_the_chosen_language() -> None:
    templates = {"trouble": Template(body="{problem} {advice} ({status}, {duration})")}
    m = render(trouble("captcha", 200), language="en", templates=templates, tz=PARIS, now=NOW)
    assert m.body == (
        "A captcha has been blocking the calendar since 07:42. "
        "Open the link and look yourself: (captcha, 15 min)"
    )


def sample(kind: str) -> Event | None:
    return {
        "slot_opened": opened(),
        "slot_gone": gone(),
        "trouble": trouble("blocked", 429),
        "recovered": recovered(),
        "layout_changed": layout(),
        "heartbeat": heartbeat(),
        "state_trouble": state_trouble_event(STATE_DIR, SEEN, "database or disk is full"),
    }.get(kind)


STATE_DIR = Path("/var/lib/rdv-monitor")


def test_state_trouble_says_what_and_what_to_do_in_each_language() -> None:
    ev = state_trouble_event(STATE_DIR, SEEN, "database or disk is full")
    french, english = fr(ev), en(ev)
    assert french.title == "rdv-monitor ne peut plus écrire son état"
    assert lines(french)[0].startswith("Le dossier /var/lib/rdv-monitor refuse les écritures")
    assert "database or disk is full" in lines(french)[0]
    assert "libérez de la place" in french.body
    assert english.title == "rdv-monitor cannot write its state"
    assert "free some space" in english.body and "/var/lib/rdv-monitor" in english.body


@pytest.mark.parametrize("kind", list(PLACEHOLDERS))
def test_every_documented_placeholder_can_be_used(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert PLACEHOLDER_HELP[kind] and all(PLACEHOLDER_HELP[kind].values())
    text = " | ".join(f"{name}={{{name}}}" for name in PLACEHOLDERS[kind])
    assert unknown_placeholders(kind, text) == []
    templates = {kind: Template(title="T", body=text)}
    with caplog.at_level(logging.WARNING, logger="monitor.notify.messages"):
        ev = sample(kind)
        if ev is None:
            m = test_message("fr", now=NOW, tz=PARIS, templates=templates)
        else:
            m = render(ev, templates=templates, tz=PARIS, now=NOW)
    assert not caplog.records
    assert m.title == "T" and "{" not in m.body and m.body.startswith(f"{PLACEHOLDERS[kind][0]}=")


def test_a_bad_template_never_raises_at_render_time(caplog: pytest.LogCaptureFixture) -> None:
    built = fr(opened())
    for text in ("{lien}", "{url.__class__}", "{0}", "{", "{slot_count:>5}", "{url!r}", "  "):
        # model_construct: bypass validation, as if a template reached render unchecked
        templates = {"slot_opened": Template.model_construct(title=text, body=text)}
        with caplog.at_level(logging.WARNING, logger="monitor.notify.messages"):
            m = render(opened(), templates=templates, tz=PARIS, now=NOW)
        assert m == built, text
    assert any("slot_opened" in r.getMessage() for r in caplog.records)


def test_an_unreadable_payload_still_gives_a_message(caplog: pytest.LogCaptureFixture) -> None:
    ev = event("slot_opened", {"url": URL, "slot_count": "three", "first_slot": "tomorrow"})
    m = fr(ev)
    assert m.title.startswith("Créneau libre") and URL in m.body
    broken = Event(1, "heartbeat", "", "", SEEN, None, "k", {"since": "2025-12-09T00:00:00Z"})
    with caplog.at_level(logging.ERROR, logger="monitor.notify.messages"):
        assert en(broken).title
    assert en(event("trouble", {"status": "weird"})).body


# --------------------------------------------------------------------------- placeholder checks


def test_unknown_placeholders() -> None:
    assert unknown_placeholders("slot_opened", "Vite {url} {{literal}} {first_slot}") == []
    assert unknown_placeholders("slot_opened", "{lien} {date} {lien}") == ["lien", "date"]
    assert unknown_placeholders("slot_opened", "{url.__class__} {0} {}") == [
        "url.__class__",
        "0",
        "",
    ]
    assert unknown_placeholders("slot_opened", "{slot_count:>3} {url!r}") == [
        "slot_count:>3",
        "url!r",
    ]
    assert unknown_placeholders("heartbeat", "{url} {watch}") == ["watch"]
    with pytest.raises(ValueError):
        unknown_placeholders("slot_opened", "{url")
    with pytest.raises(KeyError, match="known: slot_opened"):
        unknown_placeholders("slot_open", "{url}")


def test_template_problem_messages() -> None:
    assert template_problem("slot_opened", "{url}") is None
    text = template_problem("trouble", "{sicne}")
    assert text is not None and text.startswith("{sicne} is not a placeholder of trouble;")
    assert "Did you mean {since}?" in text
    assert "only plain names" not in text
    text = template_problem("slot_opened", "{url:>10}")
    assert text is not None and "no formatting after ':'" in text
    text = template_problem("slot_opened", "a } b")
    assert text is not None and "write {{ or }} for a literal brace" in text


CONFIG = f"""
[notify]
language = "en"

[[watch]]
name = "{WATCH}"
url = "{URL}"
calendars = ["3.1", "3.2"]
"""


def write_config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.replace('language = "en"\n', 'language = "en"\n' + extra))
    path.chmod(0o600)
    return path


def test_config_accepts_templates_with_valid_placeholders(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '\n[notify.templates.slot_opened]\ntitle = "RDV {calendar}"\nbody = "{summary} {url}"\n'
        '\n[notify.templates.heartbeat]\nbody = "{checks} checks ({{ok}})"\n',
    )
    config = load_config(path)
    m = render(
        heartbeat(),
        language=config.notify.language,
        templates=config.notify.templates,
        tz=config.tz,
        now=NOW,
    )
    assert m.body == "283 checks ({ok})"


def test_config_rejects_an_unknown_placeholder_naming_key_and_valid_ones(tmp_path: Path) -> None:
    path = write_config(tmp_path, '\n[notify.templates.slot_opened]\nbody = "Vite ! {lien}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    listing = ", ".join("{" + n + "}" for n in PLACEHOLDERS["slot_opened"])
    assert str(info.value) == (
        f"{path}: [notify.templates.slot_opened] body: {{lien}} is not a placeholder of "
        f"slot_opened; use one of {listing}."
    )
    assert listing.startswith("{watch}, {calendar}, {label}, {where}, {url}")


def test_config_reports_every_bad_template_at_once(tmp_path: Path) -> None:
    data = {
        "notify": {
            "templates": {
                "trouble": {"title": "{url.__class__}", "body": "{0} and {sicne}"},
                "heartbeat": {"title": "{watch}"},
            }
        },
        "watch": [{"name": "R", "url": URL, "calendars": ["3.1"]}],
    }
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="c.toml")
    message = str(info.value)
    assert message.startswith("c.toml: 3 problems:")
    assert "[notify.templates.trouble] title: {url.__class__} is not a placeholder" in message
    assert "[notify.templates.trouble] body: {0}, {sicne} are not placeholders of trouble" in (
        message
    )
    assert "[notify.templates.heartbeat] title: {watch} is not a placeholder of heartbeat" in (
        message
    )
    assert "Traceback" not in message and "pydantic" not in message


def test_config_rejects_a_lone_brace_and_an_unknown_event(tmp_path: Path) -> None:
    path = write_config(tmp_path, '\n[notify.templates.trouble]\ntitle = "Panne {"\n')
    with pytest.raises(ConfigError, match=r"\[notify.templates.trouble\] title: has a \{ or \}"):
        load_config(path)
    path = write_config(tmp_path, '\n[notify.templates.slot_open]\ntitle = "x"\n')
    with pytest.raises(
        ConfigError, match=r'"slot_open" is not an event.*Did you mean "slot_opened"'
    ):
        load_config(path)
