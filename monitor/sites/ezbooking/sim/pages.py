"""The HTML of the simulated prefecture, as the eZ Publish booking module renders it.

Markup and messages follow what is known of the real pages
(``shared/reference/booking-module.md``): ``form#FormBookingCreate`` (name
``create``) beside the step's ``h2`` inside ``div#inner_Booking``; buttons in
``div#submit_Booking``; step 1 radios in ``fieldset#fchoix_Booking > p.Bligne``;
the verbatim FULL, closed, maintenance and proxy messages. Pages carry the
noise of the real ones on purpose: a full site layout, scripts, entities
(``&#039;``, ``&nbsp;``, ``&rsquo;``), line breaks inside sentences, the
ezformtoken ``<meta>`` and hidden field, and the word "libre" outside the week
table (the legend, the landing's explanations) so that a client relying on
shortcuts fails here rather than on a real site.

Every function returns ``str``; :func:`encode` makes the bytes in the
booking's charset. Nothing here does I/O or keeps state.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Final

from monitor.sites.ezbooking.sim.model import PARIS, Booking, Planning, State

__all__ = [
    "CLOSED_MESSAGE",
    "FULL_MESSAGE",
    "booking_closed",
    "captcha",
    "closed_page",
    "encode",
    "esc",
    "ezjscore_url",
    "full_message_html",
    "home",
    "inject_token",
    "landing",
    "layout",
    "maintenance",
    "not_found",
    "oversized_head",
    "proxy_error",
    "step1",
    "step2_full",
    "step3",
    "step4",
    "unknown",
    "week_fragment",
]

FULL_MESSAGE: Final = (
    "Il n'existe plus de plage horaire libre pour votre demande de rendez-vous. "
    "Veuillez recommencer ultérieurement."
)
"""The FULL message, verbatim (plain apostrophe)."""

CLOSED_MESSAGE: Final = "Attention : Cette page n'est pas disponible pour le moment !"

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


def esc(text: str) -> str:
    """Escape like PHP's ``htmlspecialchars(ENT_QUOTES)``: ``'`` becomes ``&#039;``."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#039;")
    )


def encode(html: str, charset: str) -> bytes:
    """The bytes of a page in ``charset``.

    "iso-8859-1" pages are written as windows-1252 (what Windows-authored
    Latin-1 sites really send: ’ is byte 0x92); characters outside it become
    numeric references, as PHP's output would after ``htmlentities``.
    """
    if charset == "utf-8":
        return html.encode("utf-8")
    return html.encode("cp1252", errors="xmlcharrefreplace")


# ── layout ───────────────────────────────────────────────────────────────────

_FORM_OPEN = re.compile(r"(<form\b[^>]*\bmethod=\"post\"[^>]*>)", re.IGNORECASE)


def inject_token(html: str, token: str) -> str:
    """What eZ's ezformtoken output filter does: a hidden field right after each POST form tag."""
    field = f'\n<input type="hidden" name="ezxform_token" value="{token}" />\n'
    return _FORM_OPEN.sub(lambda m: m.group(1) + field, html)


def _prefet(site_name: str) -> str:
    """ "Préfecture de la Haute-Savoie" → "PRÉFET DE LA HAUTE-SAVOIE" (the header's brand)."""
    return site_name.upper().replace("PRÉFECTURE", "PRÉFET")


def _department(site_name: str) -> str:
    """ "Préfecture de la Haute-Savoie" → "la Haute-Savoie" (for "Les services de l'État en …")."""
    return site_name.removeprefix("Préfecture de ").removeprefix("Préfecture du ")


def layout(
    *,
    site_name: str,
    title: str,
    content: str,
    charset: str = "utf-8",
    token: str | None = None,
    breadcrumb: str = "Prise de rendez-vous",
) -> str:
    """A full page in the prefecture's site layout (DSFR-era eZ Publish templates).

    ``content`` lands in ``body > main > div > div > div > div[2]``, where the
    real booking pages have their ``#inner_Booking`` block.
    """
    dept = esc(_department(site_name))
    csrf = ""
    if token is not None:
        csrf = (
            '<meta name="csrf-param" content="ezxform_token" />\n'
            f'<meta name="csrf-token" id="ezxform_token_js" content="{token}" '
            'title="ezxform_token" />\n'
        )
    return f"""<!DOCTYPE html>
<html lang="fr" dir="ltr" data-fr-scheme="system">
<head>
<meta charset="{charset}" />
<meta http-equiv="X-UA-Compatible" content="IE=edge" />
<meta name="viewport" content="width=device-width, initial-scale=1, shrink-to-fit=no" />
<title>{esc(title)} - Les services de l&#039;&Eacute;tat en {dept}</title>
<meta name="description" content="Les services de l&#039;&Eacute;tat en {dept}" />
<meta name="format-detection" content="telephone=no" />
{csrf}<link rel="stylesheet"
  href="/extension/ezdsfr/design/ezdsfr/stylesheets/dsfr.min.css?v=1.10.2" />
<link rel="stylesheet"
  href="/extension/ezdsfr/design/ezdsfr/stylesheets/booking.css?v=20231004" />
<link rel="shortcut icon" href="/extension/ezdsfr/design/ezdsfr/images/favicon.ico" />
<script type="text/javascript"
  src="/extension/ezjscore/design/standard/lib/yui/3.17.2/build/yui/yui-min.js"></script>
<script type="text/javascript"
  src="/var/ezdsfr/cache/public/javascript/a81fd3c2e04b5c1d9a7f0e3c8d2b6a41.js"></script>
<script type="text/javascript">
//<![CDATA[
var tarteaucitronForceLanguage = 'fr';
window.xtsite = '481982'; window.xtn2 = '12'; window.xtpage = 'booking::create';
document.documentElement.className += ' js';
//]]>
</script>
</head>
<body>
<div class="fr-skiplinks">
  <nav class="fr-container" role="navigation" aria-label="Acc&egrave;s rapide">
    <ul class="fr-skiplinks__list">
      <li><a class="fr-link" href="#contenu">Contenu</a></li>
      <li><a class="fr-link" href="#header-navigation">Menu</a></li>
      <li><a class="fr-link" href="#footer">Pied de page</a></li>
    </ul>
  </nav>
</div>
<header role="banner" class="fr-header">
  <div class="fr-header__body"><div class="fr-container"><div class="fr-header__body-row">
    <div class="fr-header__brand fr-enlarge-link">
      <div class="fr-header__logo">
        <p class="fr-logo">R&eacute;publique<br />Fran&ccedil;aise</p>
      </div>
      <div class="fr-header__service">
        <a href="/" title="Accueil - Les services de l&#039;&Eacute;tat en {dept}">
          <p class="fr-header__service-title">{esc(_prefet(site_name))}</p>
        </a>
        <p class="fr-header__service-tagline">Libert&eacute;<br />&Eacute;galit&eacute;<br />
        Fraternit&eacute;</p>
      </div>
    </div>
    <div class="fr-header__tools"><div class="fr-header__search fr-modal" id="modal-search">
      <form action="/Rechercher" method="get" role="search">
        <label class="fr-label" for="search-input">Rechercher</label>
        <input class="fr-input" placeholder="Rechercher" type="search" id="search-input"
          name="SearchText" />
        <button class="fr-btn" title="Rechercher">Rechercher</button>
      </form>
    </div></div>
  </div></div></div>
  <div class="fr-header__menu fr-modal" id="header-navigation"><div class="fr-container">
    <nav class="fr-nav" role="navigation" aria-label="Menu principal">
      <ul class="fr-nav__list">
        <li class="fr-nav__item"><a class="fr-nav__link"
          href="/Actualites">Actualit&eacute;s</a></li>
        <li class="fr-nav__item"><a class="fr-nav__link"
          href="/Politiques-publiques">Politiques publiques</a></li>
        <li class="fr-nav__item"><a class="fr-nav__link"
          href="/Demarches">D&eacute;marches</a></li>
        <li class="fr-nav__item"><a class="fr-nav__link"
          href="/Services-de-l-Etat">Services de l&#039;&Eacute;tat</a></li>
        <li class="fr-nav__item"><a class="fr-nav__link"
          href="/Publications">Publications</a></li>
      </ul>
    </nav>
  </div></div>
</header>
<main role="main" id="contenu">
<div class="fr-container">
<div class="fr-grid-row fr-grid-row--gutters">
<div class="fr-col-12 fr-col-md-10 fr-col-offset-md-1">
<div class="fr-breadcrumb">
  <ol class="fr-breadcrumb__list">
    <li><a class="fr-breadcrumb__link" href="/">Accueil</a></li>
    <li><a class="fr-breadcrumb__link" href="/Demarches">D&eacute;marches</a></li>
    <li><a class="fr-breadcrumb__link" aria-current="page">{esc(breadcrumb)}</a></li>
  </ol>
</div>
{content}
</div>
</div>
</div>
</main>
<footer class="fr-footer" role="contentinfo" id="footer">
  <div class="fr-container">
    <div class="fr-footer__body">
      <div class="fr-footer__content">
        <p class="fr-footer__content-desc">Les services de l&#039;&Eacute;tat en {dept}&nbsp;:
        pr&eacute;fecture, sous-pr&eacute;fectures et directions d&eacute;partementales.</p>
        <ul class="fr-footer__content-list">
          <li class="fr-footer__content-item"><a class="fr-footer__content-link"
            href="https://www.legifrance.gouv.fr">legifrance.gouv.fr</a></li>
          <li class="fr-footer__content-item"><a class="fr-footer__content-link"
            href="https://www.gouvernement.fr">gouvernement.fr</a></li>
          <li class="fr-footer__content-item"><a class="fr-footer__content-link"
            href="https://www.service-public.fr">service-public.fr</a></li>
          <li class="fr-footer__content-item"><a class="fr-footer__content-link"
            href="https://www.data.gouv.fr">data.gouv.fr</a></li>
        </ul>
      </div>
    </div>
    <div class="fr-footer__bottom">
      <ul class="fr-footer__bottom-list">
        <li class="fr-footer__bottom-item"><a class="fr-footer__bottom-link"
          href="/Plan-du-site">Plan du site</a></li>
        <li class="fr-footer__bottom-item"><a class="fr-footer__bottom-link"
          href="/Accessibilite">Accessibilit&eacute;&nbsp;: partiellement conforme</a></li>
        <li class="fr-footer__bottom-item"><a class="fr-footer__bottom-link"
          href="/Mentions-legales">Mentions l&eacute;gales</a></li>
        <li class="fr-footer__bottom-item"><a class="fr-footer__bottom-link"
          href="/Donnees-personnelles">Donn&eacute;es personnelles</a></li>
        <li class="fr-footer__bottom-item"><a class="fr-footer__bottom-link" href="#"
          onclick="tarteaucitron.userInterface.openPanel(); return false;">Gestion des
          cookies</a></li>
      </ul>
      <div class="fr-footer__bottom-copy"><p>Sauf mention contraire, tous les contenus de ce
      site sont sous <a href="https://github.com/etalab/licence-ouverte/blob/master/LO.md">licence
      etalab-2.0</a></p></div>
    </div>
  </div>
</footer>
<script type="text/javascript" defer="defer"
  src="/extension/ezdsfr/design/ezdsfr/javascript/dsfr.module.min.js"></script>
<script type="text/javascript">
//<![CDATA[
(function() {{ var s = document.createElement('script'); s.async = true;
s.src = '/extension/ezdsfr/design/ezdsfr/javascript/smarttag.js';
document.getElementsByTagName('head')[0].appendChild(s); }})();
//]]>
</script>
<noscript><img src="/hit.xiti?s=481982&amp;s2=12&amp;p=booking::create" width="1" height="1"
  alt="" /></noscript>
</body>
</html>
"""


_PROGRESS: Final = (
    (1, "Prise de rendez-vous"),
    (3, "Descriptif"),
    (4, "Choix d&#039;une plage"),
    (6, "Contr&ocirc;le de s&eacute;curit&eacute;"),
    (8, "Cordonn&eacute;es personnelles"),
    (9, "Valider et terminer"),
)
"""The progress bar's images; the active one ends in ``r``, done ones in ``G`` (step 2 has none)."""


_IMAGES: Final = "/extension/ezbooking/design/ezbooking/images"


def _progress(active: int) -> str:
    items = []
    for number, alt in _PROGRESS:
        suffix = "r" if number == active else ("G" if number < active else "")
        items.append(
            f'<li><img src="{_IMAGES}/etape_{number}{suffix}.png"'
            f' width="86" height="86" alt="{alt}" title="{alt}" /></li>'
        )
    return '<ul id="Progress_Booking"> ' + "\n     ".join(items) + "</ul>"


def _booking_block(
    booking: Booking, h2: str, form_body: str, *, step: str, error: str = "", active: int = 0
) -> str:
    """``div#global_Booking``: progress bar, ``#inner_Booking > h2``, the form, the contacts.

    As on the real pages, the second ``h2`` (« Contacts ») is inside ``#inner_Booking``
    too, deeper: only the direct child names the step.
    """
    error_html = ""
    if error:
        error_html = f'<div class="fr-alert fr-alert--error Berror">\n  <p>{error}</p>\n</div>\n'
    return f"""<div id="global_Booking">
  {_progress(active)}
  <div id="header_Booking">module d&#039;inscription de l&#039;organisme</div>
  <div id="inner_Booking">
    <h2>{h2}</h2>
{error_html}    <form name="create" class="jqTransform FormValidate" id="FormBookingCreate" \
action="{esc(step)}" method="post">
{form_body}
    </form>
    <div id="dialog_Booking"><div id="contact_box" class="hidden_box"><h2>Contacts</h2>
    <p>Pr&eacute;fecture &ndash; bureau des &eacute;trangers</p></div></div>
  </div>
</div>"""


def _submit(*buttons: tuple[str, str]) -> str:
    inputs = "\n".join(
        f'  <input type="submit" name="{name}" class="Bbutton" value="{esc(value)}" />'
        for name, value in buttons
    )
    return f'<div id="submit_Booking">\n{inputs}\n</div>'


def _page(booking: Booking, title: str, block: str, token: str | None) -> str:
    html = layout(
        site_name=booking.site_name,
        title=title,
        content=block,
        charset=booking.charset,
        token=token,
        breadcrumb=booking.title,
    )
    return inject_token(html, token) if token is not None else html


# ── the steps ────────────────────────────────────────────────────────────────


def landing(booking: Booking, token: str, *, error: str = "") -> str:
    """Step 0: the conditions checkbox; POST ``condition=on`` + ``nextButton``."""
    body = f"""<div class="Booking_intro">
{booking.intro}</div>
<div id="condition_Booking">
  <input type="checkbox" name="condition" id="condition" class="condition" />
  <label for="condition">Veuillez cocher la case pour accepter les conditions
  d&#039;utilisation avant de continuer le processus de prise de rendez-vous.</label>
</div>
{_submit(("nextButton", "Effectuer une demande de rendez-vous"))}"""
    block = _booking_block(
        booking, esc(booking.title), body, step=booking.landing_path, error=error, active=1
    )
    return _page(booking, f"Prise de rendez-vous - {booking.title}", block, token)


def step1(booking: Booking, token: str, *, error: str = "") -> str:
    """Step 1: one radio per planning; POST ``planning=<id>`` + ``nextButton``."""
    lines = "\n".join(
        f'  <p class="Bligne">\n'
        f'    <input type="radio" name="planning" id="planning{p.id}" value="{p.id}" '
        f'class="radio" />\n'
        f'    <label for="planning{p.id}">{esc(p.label)}</label>\n'
        f"  </p>"
        for p in booking.plannings
    )
    body = f"""<p class="Bintro">Veuillez choisir le guichet correspondant &agrave; votre
d&eacute;marche&nbsp;:</p>
<fieldset id="fchoix_Booking">
{lines}
</fieldset>
{_submit(("nextButton", "Etape suivante"))}"""
    block = _booking_block(
        booking,
        "Choix de la nature du rendez-vous",
        body,
        step=booking.step_path(1),
        error=error,
        active=1,
    )
    return _page(booking, f"Prise de rendez-vous - {booking.title}", block, token)


def full_message_html(state: State) -> str:
    """The FULL message as the page has it: entity apostrophe, a line break mid-text."""
    apostrophe = "&#039;" if state.apostrophe == "'" else "’"
    demande = "votre a demande" if state.typo else "votre demande"
    return (
        f"Il n{apostrophe}existe plus de plage horaire libre pour {demande} de rendez-vous.\n"
        "        Veuillez recommencer ult&eacute;rieurement."
    )


def step2_full(booking: Booking, token: str, state: State) -> str:
    """Step 2 "Vérification de disponibilité": the FULL message and "Terminer"."""
    body = f"""        {full_message_html(state)}
{_submit(("finishButton", "Terminer"))}"""
    block = _booking_block(
        booking, "V&eacute;rification de disponibilit&eacute;", body, step=booking.step_path(2)
    )
    return _page(booking, f"Prise de rendez-vous - {booking.title}", block, token)


def step3(booking: Booking, token: str, planning: Planning, *, error: str = "") -> str:
    """Step 3 "Description de la nature du rendez-vous": shown only when slots exist."""
    description = esc(planning.description) if planning.description else ""
    body = f"""<div class="Bdescription">
  <p>Vous avez choisi&nbsp;: <strong>{esc(planning.label)}</strong></p>
  <p>{description}</p>
  <p>Attention&nbsp;: un seul rendez-vous par personne. Les rendez-vous pris en
  doublon seront annul&eacute;s sans pr&eacute;avis.</p>
</div>
{_submit(("previousButton", "Etape précédente"), ("nextButton", "Etape suivante"))}"""
    block = _booking_block(
        booking,
        "Description de la nature du rendez-vous",
        body,
        step=booking.step_path(3),
        error=error,
        active=3,
    )
    return _page(booking, f"Prise de rendez-vous - {booking.title}", block, token)


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


def step4(
    booking: Booking,
    token: str,
    planning: Planning,
    week_start: date,
    offset: int,
    slots: Sequence[datetime],
) -> str:
    """Step 4 « Choix d'une plage horaire »: ``a#ezplanning-url``, the week table.

    The real page's script loads the table from ``a#ezplanning-url`` into
    ``#planning_Booking``; the simulator also renders the first week in place,
    as a page saved from a browser shows it.
    """
    table = week_fragment(booking, planning, week_start, slots, offset)
    url = ezjscore_url(booking, planning, offset)
    body = f"""<a id="ezplanning-url" href="{url}" title="Choix d&#039;une plage horaire"></a>
<div id="ezplanning-loading" style="display:none">Chargement&hellip;</div>
<div id="planning_Booking">
{table}
</div>
{_submit(("nextButton", "Première plage horaire libre"), ("previousButton", "Etape précédente"))}
<script type="text/javascript">
//<![CDATA[
YUI().use('node', 'io-ez', function (Y) {{
  Y.one('#planning_Booking').delegate('click', function (e) {{
    e.preventDefault();
    Y.io.get(e.currentTarget.getAttribute('href'), {{
      on: {{ success: function (id, r) {{
        Y.one('#planning_Booking').setContent(r.responseText);
      }} }}
    }});
  }}, 'a.link');
}});
//]]>
</script>"""
    block = _booking_block(
        booking, "Choix d&#039;une plage horaire", body, step=booking.step_path(4), active=4
    )
    return _page(booking, f"Prise de rendez-vous - {booking.title}", block, token)


def captcha(booking: Booking, token: str, variant: str, *, error: str = "") -> str:
    """Step 6, the security check: eZ's image captcha or Google reCAPTCHA v2."""
    if variant == "recaptcha":
        widget = """<script src="https://www.google.com/recaptcha/api.js?hl=fr" async="async"
  defer="defer"></script>
<p>Afin de v&eacute;rifier que vous n&#039;&ecirc;tes pas un robot, veuillez cocher la case
&laquo;&nbsp;Je ne suis pas un robot&nbsp;&raquo;.</p>
<div class="g-recaptcha" data-sitekey="6LcT9xMUAAAAAJ3dWq8k7xPpR1m0Q5fG2hJ4kL7n"></div>
<noscript><div><textarea id="g-recaptcha-response" name="g-recaptcha-response"
class="g-recaptcha-response" style="width: 250px; height: 40px;"></textarea></div></noscript>"""
    else:
        image = f"/var/cache/ezhumancaptcha/{booking.id}-{token[:12]}.png"
        widget = f"""<p>Afin de v&eacute;rifier que vous n&#039;&ecirc;tes pas un robot, veuillez
recopier le code de s&eacute;curit&eacute; affich&eacute; ci-dessous.</p>
<p class="Bcaptcha"><img src="{image}" alt="Code de s&eacute;curit&eacute;"
  id="eZHumanCAPTCHAImage" />
<a href="/ezhumancaptcha/audio/{token[:12]}">&Eacute;couter le code</a></p>
<label for="eZHumanCAPTCHACode">Code de s&eacute;curit&eacute;</label>
<input type="text" name="eZHumanCAPTCHACode" id="eZHumanCAPTCHACode" value="" class="box"
  autocomplete="off" />"""
    body = f"""<div class="Bsecurite">
{widget}
</div>
{_submit(("nextButton", "Etape suivante"))}"""
    block = _booking_block(
        booking,
        "Contr&ocirc;le de s&eacute;curit&eacute;",
        body,
        step=booking.step_path(6),
        error=error,
        active=6,
    )
    return _page(booking, f"Prise de rendez-vous - {booking.title}", block, token)


def closed_page(site_name: str, title: str, *, charset: str = "utf-8") -> str:
    """« Attention : Cette page n'est pas disponible pour le moment ! » in the site layout."""
    block = f"""<div id="inner_Booking" class="Booking">
<h2>{esc(title)}</h2>
<div class="Bmessage">
  <p>Attention&nbsp;: Cette page n&#039;est pas disponible pour le
  moment&nbsp;!</p>
</div>
</div>"""
    return layout(
        site_name=site_name, title=title, content=block, charset=charset, breadcrumb=title
    )


def booking_closed(booking: Booking) -> str:
    """The booking switched off by the prefecture: a normal page, status 200."""
    return closed_page(booking.site_name, booking.title, charset=booking.charset)


def unknown(site_name: str, charset: str = "utf-8") -> str:
    """A 200 page never seen before: a redesign pointing elsewhere. Neither FULL nor slots.

    It says "libre" (in another sense) and "rendez-vous" on purpose.
    """
    content = """<div class="fr-callout">
<h1 class="fr-callout__title">Prendre rendez-vous en ligne</h1>
<p class="fr-callout__text">Le service de prise de rendez-vous &eacute;volue. Les demandes
de titre de s&eacute;jour se font d&eacute;sormais sur la plateforme nationale, depuis votre
espace personnel.</p>
<p>L&rsquo;accueil g&eacute;n&eacute;ral reste en acc&egrave;s libre du lundi au vendredi
de 9h00 &agrave; 11h30.</p>
<a class="fr-btn" href="/Demarches/Titres-de-sejour/Nouvelle-procedure">Commencer
ma d&eacute;marche</a>
</div>"""
    return layout(
        site_name=site_name, title="Prendre rendez-vous", content=content, charset=charset
    )


def maintenance() -> str:
    """The maintenance page the front serves instead of the site."""
    return """<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8" />
<title>Site indisponible</title>
<style type="text/css">
body { font-family: Marianne, Arial, sans-serif; background: #f6f6f6; color: #161616; }
.maintenance { max-width: 40em; margin: 6em auto; background: #fff; padding: 2em 3em; }
</style>
</head>
<body>
<div class="maintenance">
<h1>Site indisponible</h1>
<p>Le site est actuellement en cours de maintenance afin d&#039;am&eacute;liorer
nos services.</p>
<p>Veuillez r&eacute;essayer ult&eacute;rieurement.</p>
<p>Nous vous prions de nous excuser pour la g&ecirc;ne occasionn&eacute;e.</p>
</div>
</body>
</html>
"""


def home(site_name: str, bookings: Sequence[Booking]) -> str:
    """The site's home page, linking to every booking."""
    items = "\n".join(
        f'<li><a href="{b.landing_path}">Prendre rendez-vous&nbsp;: {esc(b.title)}</a></li>'
        for b in bookings
    )
    content = f"""<div class="fr-content">
<h1>Prendre un rendez-vous en pr&eacute;fecture</h1>
<ul>
{items}
</ul>
</div>"""
    return layout(site_name=site_name, title="Accueil", content=content, breadcrumb="Accueil")


def not_found(site_name: str) -> str:
    """eZ's kernel error 404 inside the layout."""
    content = """<div class="fr-content error-page">
<h1>Page introuvable</h1>
<p>La page que vous recherchez n&#039;existe pas ou a &eacute;t&eacute; d&eacute;plac&eacute;e.</p>
<p><a href="/">Retour &agrave; la page d&#039;accueil</a></p>
</div>"""
    return layout(site_name=site_name, title="Erreur 404", content=content, breadcrumb="Erreur")


def oversized_head(site_name: str) -> str:
    """The start of an endless page: the layout's head, then filler forever."""
    return layout(site_name=site_name, title="Prise de rendez-vous", content="").split("<main")[0]


# ── front errors ─────────────────────────────────────────────────────────────

_HAPROXY = """<html><body><h1>{status} {reason}</h1>
{text}
</body></html>
"""
_NGINX = """<html>
<head><title>{status} {reason}</title></head>
<body>
<center><h1>{status} {reason}</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""
_APACHE_FORBIDDEN = """<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>403 Forbidden</title>
</head><body>
<h1>Forbidden</h1>
<p>You don't have permission to access this resource.</p>
</body></html>
"""
_EZ_FATAL = (
    "<br />\n<b>Fatal error</b>:  Allowed memory size of 268435456 bytes exhausted "
    "(tried to allocate 20480 bytes) in "
    "<b>/var/www/ezpublish/kernel/classes/datatypes/ezxmltext/ezxmltexttype.php</b> "
    "on line <b>412</b><br />\n"
    "<b>Fatal error</b>: eZ Publish did not finish its request<br/>"
    "<p>The execution of eZ Publish was abruptly ended, the debug output is present below.</p>\n"
)


def proxy_error(kind: str, variant: str | None) -> tuple[int, str, list[tuple[str, str]], str]:
    """``(status, body, headers, server)`` of a front error page (HAProxy, nginx, Apache, PHP).

    HAProxy pages close the connection and carry ``Cache-Control: no-cache``;
    Apache's own error pages are ISO-8859-1; eZ's fatal error is a 500 from PHP.
    """
    haproxy_headers = [("Cache-Control", "no-cache"), ("Content-Type", "text/html")]
    if kind == "blocked":
        if variant == "forbidden":
            return (
                403,
                _APACHE_FORBIDDEN,
                [("Content-Type", "text/html; charset=iso-8859-1")],
                ("Apache"),
            )
        if variant == "429":
            body = _HAPROXY.format(
                status=429,
                reason="Too Many Requests",
                text="You have sent too many requests in a given amount of time.",
            )
            return 429, body, haproxy_headers, ""
        body = _HAPROXY.format(
            status=403, reason="Forbidden", text="Request forbidden by administrative rules."
        )
        return 403, body, haproxy_headers, ""
    if kind == "down":
        if variant == "haproxy_502":
            body = _HAPROXY.format(
                status=502,
                reason="Bad Gateway",
                text="The server returned an invalid or incomplete response.",
            )
            return 502, body, haproxy_headers, ""
        if variant == "bad_gateway":
            return (
                502,
                _NGINX.format(status=502, reason="Bad Gateway"),
                [("Content-Type", "text/html")],
                "nginx",
            )
        if variant == "gateway_timeout":
            return (
                504,
                _NGINX.format(status=504, reason="Gateway Time-out"),
                [("Content-Type", "text/html")],
                "nginx",
            )
        if variant == "500":
            return 500, _EZ_FATAL, [("Content-Type", "text/html; charset=utf-8")], "Apache"
        body = _HAPROXY.format(
            status=503,
            reason="Service Unavailable",
            text="No server is available to handle this request.",
        )
        return 503, body, haproxy_headers, ""
    raise ValueError(f"no front error page for state {kind!r}")
