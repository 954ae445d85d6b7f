"""The prefecture's site around the booking module: layout, home, 404, and page encoding.

Pages carry the noise of the real ones on purpose: a full site layout, scripts,
entities (``&#039;``, ``&nbsp;``, ``&rsquo;``), the ezformtoken ``<meta>`` and
hidden field, so that a client relying on shortcuts fails here rather than on
a real site. Every function returns ``str``; :func:`encode` makes the bytes in
the booking's charset. Nothing here does I/O or keeps state.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from monitor.sites.ezbooking.sim.model import Booking

__all__ = ["encode", "esc", "home", "inject_token", "layout", "not_found", "oversized_head"]


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
