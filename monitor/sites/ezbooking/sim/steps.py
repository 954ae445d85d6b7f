"""The booking module's step pages, in the real markup (``shared/real-pages/README.md``).

``div#global_Booking`` holds the progress bar ``ul#Progress_Booking`` (the active
step's image ends in ``r``), then ``div#inner_Booking`` with the step title as its
direct ``h2`` child, ``form#FormBookingCreate.jqTransform.FormValidate`` (name
``create``), the buttons in ``div#submit_Booking`` and, deeper, the second ``h2``
« Contacts » in ``#contact_box``. Step 1 radios are in ``fieldset#fchoix_Booking >
p.Bligne``; the FULL text is a bare text node of the form, before « Terminer ».
Pure functions returning ``str``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Final

from monitor.sites.ezbooking.sim.layout import esc, inject_token, layout
from monitor.sites.ezbooking.sim.model import Booking, Planning, State
from monitor.sites.ezbooking.sim.week import ezjscore_url, week_fragment

__all__ = [
    "CLOSED_MESSAGE",
    "FULL_MESSAGE",
    "booking_closed",
    "captcha",
    "closed_page",
    "full_message",
    "landing",
    "step1",
    "step2_full",
    "step3",
    "step4",
]

FULL_MESSAGE: Final = (
    "Il n'existe plus de plage horaire libre pour votre demande de rendez-vous. "
    "Veuillez recommencer ultérieurement."
)
"""The FULL message, verbatim (plain apostrophe)."""

CLOSED_MESSAGE: Final = "Attention : Cette page n'est pas disponible pour le moment !"


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


def _page(booking: Booking, block: str, token: str | None) -> str:
    """A step of the booking module: every step has the same title, named after the booking."""
    html = layout(
        site_name=booking.site_name,
        title=f"Prise de rendez-vous - {booking.title}",
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
    return _page(booking, block, token)


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
    return _page(booking, block, token)


def full_message(state: State) -> str:
    """The FULL message as the real step-2 pages have it: one line, raw UTF-8, plain ``'``.

    ``state.apostrophe`` "’" gives the typographic variant; ``state.typo`` the real
    typo « pour votre a demande » (Hauts-de-Seine, 2019).
    """
    text = FULL_MESSAGE.replace("'", state.apostrophe)
    return text.replace("votre demande", "votre a demande") if state.typo else text


def step2_full(booking: Booking, token: str, state: State) -> str:
    """Step 2 « Vérification de disponibilité »: the bare FULL text in the form, « Terminer »."""
    body = f"""                                        {full_message(state)}
                    <div id="submit_Booking">
                        <input type="submit" name="finishButton" value="Terminer" \
title="Cliquez ici pour terminer le processus" class="Bbutton" />
                    </div>"""
    block = _booking_block(
        booking, "Vérification de disponibilité", body, step=booking.step_path(2)
    )
    return _page(booking, block, token)


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
    return _page(booking, block, token)


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
    return _page(booking, block, token)


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
    return _page(booking, block, token)


def closed_page(site_name: str, title: str, *, charset: str = "utf-8") -> str:
    """The closed sentence, verbatim, as the booking block's only content.

    « Attention : Cette page n'est pas disponible pour le moment ! » is what bots
    watch for (Ardèche); it stands where the form would be, under the title.
    """
    block = f"""<div id="global_Booking">
  <div id="header_Booking">module d&#039;inscription de l&#039;organisme</div>
  <div id="inner_Booking">
    <h2>{esc(title)}</h2>
    {CLOSED_MESSAGE}
  </div>
</div>"""
    return layout(
        site_name=site_name, title=title, content=block, charset=charset, breadcrumb=title
    )


def booking_closed(booking: Booking) -> str:
    """The booking switched off by the prefecture: a normal page, status 200."""
    return closed_page(booking.site_name, booking.title, charset=booking.charset)
