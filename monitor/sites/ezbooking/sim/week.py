"""The step-4 week table, as the ezjscore call ``bookingserver::planning::assign`` returns it.

Cells follow the site's CSS (``shared/real-pages/README.md`` §3): ``td.status-1.free``
bookable, ``td.complete`` taken, ``td.status-0`` unbookable with a slot link the
CSS hides, ``td.status-2`` closed; the legend ``#caption_Booking`` says « libre »
too. Pure functions returning ``str``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Final

from monitor.sites.ezbooking.sim.layout import esc
from monitor.sites.ezbooking.sim.model import PARIS, Booking, Planning

__all__ = ["ezjscore_url", "week_fragment"]

_DAYS: Final = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS: Final = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
_OPENING_TIMES: Final = ("09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "13:30", "14:00")
"""Rows every week table shows ("complet" on weekdays when no slot is free)."""


def ezjscore_url(booking: Booking, planning: Planning, offset: int) -> str:
    """The AJAX week URL the page's own script calls (site root, no ``/index.php``)."""
    return f"/ezjscore/call/bookingserver::planning::assign::{booking.id}::{planning.id}::{offset}"


def _long_date(day: date) -> str:
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


_UNBOOKABLE_TIME: Final = "09:00"
"""Weekday cells at this time are ``status-0`` (held back for urgent cases) when not free:
they keep a slot link that the site's CSS hides, as real tables do. Never a slot."""


def week_fragment(
    booking: Booking,
    planning: Planning,
    week_start: date,
    slots: Sequence[datetime],
    offset: int = 0,
) -> str:
    """The week table and its legend ``#caption_Booking``: the ezjscore answer.

    Cells follow the site's CSS: ``td.status-1.free`` bookable (a link to
    ``…/booking/create/<id>/5/<unix_ts>``), ``td.complete`` taken,
    ``td.status-0`` unbookable with a hidden link, ``td.status-2`` closed.
    Days are ``th.day``, times ``td.time``. The legend says « libre » too.
    ``a.link.previous``/``a.link.next`` ask for the weeks around ``offset`` (days).
    """
    week_end = week_start + timedelta(days=6)
    free: dict[tuple[date, str], int] = {}
    for slot in slots:
        local = slot.astimezone(PARIS)
        if week_start <= local.date() <= week_end:
            free[(local.date(), local.strftime("%H:%M"))] = int(slot.timestamp())
    has_sunday = any(day == week_end for day, _ in free)
    days = [week_start + timedelta(days=i) for i in range(7 if has_sunday else 6)]
    times = sorted(set(_OPENING_TIMES) | {t for _, t in free})

    head = "".join(
        f'<th scope="col" class="day">{_DAYS[d.weekday()].capitalize()}<br />'
        f"{d.strftime('%d/%m')}</th>"
        for d in days
    )
    rows = []
    for t in times:
        cells = []
        for d in days:
            ts = free.get((d, t))
            title = f"Choisir le {_long_date(d)} à {t}"
            if ts is not None:
                href = f"{booking.step_path(5)}/{ts}"
                cells.append(
                    f'<td class="status-1 free"><a href="{href}" title="{esc(title)}">'
                    "plage libre</a></td>"
                )
            elif d.weekday() < 5 and t == _UNBOOKABLE_TIME:
                hour, minute = (int(x) for x in t.split(":"))
                held = datetime(d.year, d.month, d.day, hour, minute, tzinfo=PARIS)
                href = f"{booking.step_path(5)}/{int(held.timestamp())}"
                cells.append(f'<td class="status-0"><a href="{href}">plage libre</a></td>')
            elif d.weekday() < 5 and t in _OPENING_TIMES:
                cells.append('<td class="complete">complet</td>')
            else:
                cells.append('<td class="status-2">&nbsp;</td>')
        row_head = f'<td class="time">{t}</td>'
        rows.append(f"<tr>\n{row_head}\n" + "\n".join(cells) + "\n</tr>")
    period = f"Du {_long_date(days[0])} au {_long_date(days[-1])}"
    before = ezjscore_url(booking, planning, offset - 7)
    after = ezjscore_url(booking, planning, offset + 7)
    return f"""<a class="link previous" href="{before}">&laquo; Semaine pr&eacute;c&eacute;dente</a>
<a class="link next" href="{after}">Semaine suivante &raquo;</a>
<table class="planning" summary="Plages horaires du guichet {esc(planning.label)}">
<thead>
<tr><th class="emptyCol">&nbsp;</th><th colspan="7">{period}</th></tr>
<tr><th class="emptyCol">Horaire</th>{head}</tr>
</thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
<div id="caption_Booking">
  <p><span class="free">libre</span>&nbsp;: plage horaire libre, cliquez dessus pour la
  s&eacute;lectionner</p>
  <p><span class="complete">complet</span>&nbsp;: plage horaire d&eacute;j&agrave;
  r&eacute;serv&eacute;e</p>
  <p><span class="unreservable">non r&eacute;servable</span></p>
  <p><span class="close">ferm&eacute;</span></p>
</div>"""
