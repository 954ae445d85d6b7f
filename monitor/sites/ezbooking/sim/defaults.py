"""The default simulated prefecture: its bookings and calendars, and the default slots.

Modelled on Haute-Savoie (booking 29396, ten calendars), a single-counter
booking, and Seine-Saint-Denis under ``/index.php`` with look-alike labels.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from monitor.sites.ezbooking.sim.model import PARIS, Booking, Planning, monday_of

__all__ = ["default_bookings", "default_slots"]


def default_slots(today: date) -> list[datetime]:
    """Tuesday 09:00 and 09:30 and Thursday 14:00 of the week after ``today``, Paris time.

    What ``available`` gets when no slot is named (``sim --available 29396:3.2``, or
    the control endpoint without ``slots``).
    """
    monday = monday_of(today) + timedelta(days=7)
    return [
        datetime.combine(monday + timedelta(days=1), time(9, 0), PARIS),
        datetime.combine(monday + timedelta(days=1), time(9, 30), PARIS),
        datetime.combine(monday + timedelta(days=3), time(14, 0), PARIS),
    ]


_HAUTE_SAVOIE_INTRO = """\
<p>Pour chaque type de demande, plusieurs calendriers de rendez-vous sont ouverts.
Si le premier calendrier est complet (1.1, 3.1 ou 4.1 selon votre situation), consultez les
calendriers &laquo;&nbsp;rendez-vous suppl&eacute;mentaires&nbsp;&raquo;, qui contiennent
d&rsquo;autres cr&eacute;neaux.</p>
<ul>
<li>Premi&egrave;re demande de titre de s&eacute;jour&nbsp;: calendriers 1.1, 1.2 ou 1.3&nbsp;;</li>
<li>visa D &laquo;&nbsp;carte de s&eacute;jour &agrave; solliciter dans les 2 mois&nbsp;&raquo;,
demande concomitante asile/s&eacute;jour, CST recherche d&rsquo;emploi ou cr&eacute;ation
d&rsquo;entreprise, APS master&nbsp;: calendrier 2&nbsp;;</li>
<li>renouvellement de VLS-TS, CST, CSP ou APS&nbsp;: calendriers 3.1, 3.2, 3.3 ou 3.4&nbsp;;</li>
<li>renouvellement de carte de r&eacute;sident de 10 ans, de certificat de r&eacute;sidence
alg&eacute;rien (CRA de 10 ans), modification d&rsquo;&eacute;tat civil&nbsp;: calendriers
4.1 ou 4.2.</li>
</ul>
<p>Si le message &laquo;&nbsp;Il n&rsquo;existe plus de plage horaire libre pour votre demande
de rendez-vous&nbsp;&raquo; appara&icirc;t, les calendriers sont complets au moment de votre
demande&nbsp;: il est inutile de contacter la pr&eacute;fecture par t&eacute;l&eacute;phone.
De nouveaux rendez-vous sont propos&eacute;s tous les lundis matin &agrave; compter de 8h.
<a href="/content/download/41231/263958/file/calendrier_complet.pdf">Que faire si le calendrier
est complet&nbsp;? (pdf, 95 Ko)</a></p>
"""

_RENEWAL_DOCS = (
    "Munissez-vous de l’original et d’une copie de votre titre de séjour en cours de validité, "
    "d’un justificatif de domicile de moins de 3 mois, de 3 photographies d’identité récentes "
    "et du timbre fiscal. Tout dossier incomplet ne pourra pas être instruit."
)
_FIRST_DOCS = (
    "Présentez-vous muni de votre passeport, de votre visa, d’un justificatif de domicile de "
    "moins de 3 mois, de 3 photographies d’identité et de l’ensemble des pièces listées sur la "
    "fiche correspondant à votre situation."
)


def default_bookings() -> list[Booking]:
    """The simulated prefecture: three bookings, every planning FULL.

    * 29396 "Accueil des étrangers" (Haute-Savoie-like), ten calendars
      1.1, 1.2, 1.3, 2, 3.1, 3.2, 3.3, 3.4, 4.1, 4.2;
    * 29400, a single-counter booking (no step 1);
    * 9845 under ``/index.php`` landing at ``/index.php/booking/create/9845/0``
      (Seine-Saint-Denis-like), whose labels include "3.1", "3.10" and "13.1".
    """
    etrangers = [
        Planning(24980, "Calendrier 1.1 - Première demande de titre de séjour", "1.1", _FIRST_DOCS),
        Planning(
            24981,
            "Calendrier 1.2 - Rendez-vous supplémentaires première demande de titre de séjour",
            "1.2",
            _FIRST_DOCS,
        ),
        Planning(
            24983,
            "Calendrier 1.3 - Rendez-vous supplémentaires première demande de titre de séjour",
            "1.3",
            _FIRST_DOCS,
        ),
        Planning(
            25002,
            "Calendrier 2 - Visa D « carte de séjour à solliciter dans les 2 mois », demande "
            "concomitante asile/séjour, CST recherche d'emploi ou création d'entreprise, "
            "APS master",
            "2",
            _FIRST_DOCS,
        ),
        Planning(
            24990,
            "Calendrier 3.1 - Renouvellement de titre de séjour (VLS-TS, CST, CSP, APS)",
            "3.1",
            _RENEWAL_DOCS,
        ),
        Planning(
            24991,
            "Calendrier 3.2 - Rendez-vous supplémentaires renouvellement",
            "3.2",
            _RENEWAL_DOCS,
        ),
        Planning(
            25010,
            "Calendrier 3.3 - Rendez-vous supplémentaires renouvellement",
            "3.3",
            _RENEWAL_DOCS,
        ),
        Planning(
            25011,
            "Calendrier 3.4 - Rendez-vous supplémentaires renouvellement",
            "3.4",
            _RENEWAL_DOCS,
        ),
        Planning(
            24995,
            "Calendrier 4.1 - Renouvellement carte de résident 10 ans, CRA 10 ans, "
            "modification d'état civil",
            "4.1",
            _RENEWAL_DOCS,
        ),
        Planning(
            25020,
            "Calendrier 4.2 - Rendez-vous supplémentaires carte de résident, CRA, état civil",
            "4.2",
            _RENEWAL_DOCS,
        ),
    ]
    remise = [
        Planning(
            25100,
            "Guichet unique - Remise de titre de séjour (sous-préfecture de Thonon-les-Bains)",
            None,
            "Présentez-vous avec votre récépissé, l’ancien titre de séjour et le SMS ou courrier "
            "vous invitant à retirer votre titre.",
        )
    ]
    seine_saint_denis = [
        Planning(
            10007,
            "Guichet 1 - Première demande de titre de séjour étudiant",
            "1",
            _FIRST_DOCS,
        ),
        Planning(
            10012,
            "Calendrier 3.1 - Renouvellement titre de séjour salarié - Bobigny",
            "3.1",
            _RENEWAL_DOCS,
        ),
        Planning(
            10013,
            "Calendrier 3.10 - Renouvellement titre de séjour vie privée et familiale - Bobigny",
            "3.10",
            _RENEWAL_DOCS,
        ),
        Planning(
            10031,
            "Calendrier 13.1 - Duplicata et changement d'adresse - Le Raincy",
            "13.1",
            _RENEWAL_DOCS,
        ),
    ]
    return [
        Booking(29396, "Accueil des étrangers", etrangers, intro=_HAUTE_SAVOIE_INTRO),
        Booking(
            29400,
            "Remise des titres de séjour - Thonon-les-Bains",
            remise,
            intro="<p>Ce rendez-vous est r&eacute;serv&eacute; au retrait d&rsquo;un titre de "
            "s&eacute;jour dont la fabrication vous a &eacute;t&eacute; notifi&eacute;e.</p>\n",
        ),
        Booking(
            9845,
            "Demandes de titres de séjour",
            seine_saint_denis,
            path_prefix="/index.php",
            landing_suffix="/0",
            site_name="Préfecture de la Seine-Saint-Denis",
            intro="<p>S&eacute;lectionnez ci-apr&egrave;s le guichet correspondant &agrave; "
            "votre d&eacute;marche.</p>\n",
        ),
    ]
