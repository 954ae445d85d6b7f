"""What the servers in front of the booking module answer on bad days, verbatim.

HAProxy's own error pages (as HAProxy writes them: no ``Server`` header,
``Cache-Control: no-cache``, connection closed), nginx's and Apache's, eZ's PHP
fatal error, the front's « Service surchargé » throttle page (Val-d'Oise, real),
the maintenance page and a redesign never seen before. Pure functions.
"""

from __future__ import annotations

from monitor.sites.ezbooking.sim.layout import layout

__all__ = ["front_error", "maintenance", "unknown"]


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


# ── front errors ─────────────────────────────────────────────────────────────

_HAPROXY = "<html><body><h1>{status} {reason}</h1>\n{text}\n</body></html>\n"
"""HAProxy's built-in error page, byte for byte (``http_err_msgs``)."""

_HAPROXY_PAGES: dict[str, tuple[int, str, str]] = {
    "haproxy_403": (403, "Forbidden", "Request forbidden by administrative rules."),
    "429": (429, "Too Many Requests", "You have sent too many requests in a given amount of time."),
    "haproxy_502": (502, "Bad Gateway", "The server returned an invalid or incomplete response."),
    "haproxy_503": (503, "Service Unavailable", "No server is available to handle this request."),
    "haproxy_504": (504, "Gateway Time-out", "The server didn't respond in time."),
    "haproxy_504_timeout": (504, "Gateway Timeout", "The server didn't respond in time."),
}
"""Variant → (status, reason as HAProxy spells it, sentence). Both 504 spellings are seen."""

_NGINX = """<html>
<head><title>{status} {reason}</title></head>
<body>
<center><h1>{status} {reason}</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""
_NGINX_PAGES: dict[str, tuple[int, str]] = {
    "bad_gateway": (502, "Bad Gateway"),
    "gateway_timeout": (504, "Gateway Time-out"),
}

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

SURCHARGE: str = (
    "<h1>Service surchargé</h1>\n"
    "Le service que vous avez demandé est actuellement surchargé et/ou il n'y plus de "
    "créneaux de rendez-vous disponibles pour le moment.\n"
    "<br>\n"
    "Veuillez réitérer votre demande ultérieurement.\n"
)
"""The real « Service surchargé » page (Val-d'Oise, the answer to the step-1 POST), as the
server sent it: it starts at ``<h1>``; a browser adds ``<html><head><body>`` on save."""

SURCHARGE_ENTITY: str = SURCHARGE.replace("é", "&eacute;")
"""The same page where PHP's ``htmlentities`` wrote « surcharg&eacute; » (seen by bots)."""


def front_error(kind: str, variant: str | None) -> tuple[int, str, list[tuple[str, str]], str]:
    """``(status, body, headers, server)`` of a front error page (HAProxy, nginx, Apache, PHP).

    HAProxy pages close the connection, send no ``Server`` header and carry
    ``Cache-Control: no-cache``; Apache's own error pages are ISO-8859-1; eZ's
    fatal error is a 500 from PHP; « Service surchargé » comes with 200.
    """
    haproxy_headers = [("Cache-Control", "no-cache"), ("Content-Type", "text/html")]
    if kind not in ("blocked", "down"):
        raise ValueError(f"no front error page for state {kind!r}")
    if variant is None:
        variant = "haproxy_403" if kind == "blocked" else "haproxy_503"
    if variant in _HAPROXY_PAGES:
        status, reason, text = _HAPROXY_PAGES[variant]
        return status, _HAPROXY.format(status=status, reason=reason, text=text), haproxy_headers, ""
    if variant in _NGINX_PAGES:
        status, reason = _NGINX_PAGES[variant]
        body = _NGINX.format(status=status, reason=reason)
        return status, body, [("Content-Type", "text/html")], "nginx"
    if variant == "forbidden":
        return 403, _APACHE_FORBIDDEN, [("Content-Type", "text/html; charset=iso-8859-1")], "Apache"
    if variant == "500":
        return 500, _EZ_FATAL, [("Content-Type", "text/html; charset=utf-8")], "Apache"
    if variant in ("surcharge", "surcharge_entity"):
        body = SURCHARGE if variant == "surcharge" else SURCHARGE_ENTITY
        return 200, body, [("Content-Type", "text/html; charset=utf-8")], "Apache"
    raise ValueError(f"no front error page for {kind}/{variant}")
