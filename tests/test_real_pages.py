"""The classifier on pages saved from real prefecture sites (``../shared/real-pages/``).

Those pages are not part of the project (they were written by other people
and are read where they are, never copied); CI has the folder beside the
repository. Each is checked against the answer its README gives.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.observation import Status
from monitor.sites.ezbooking.classify import classify

REAL_PAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "real-pages"

pytestmark = pytest.mark.skipif(
    not REAL_PAGES.is_dir(),
    reason=f"the real saved pages are not here ({REAL_PAGES}, i.e. ../shared/real-pages/ "
    "beside the repository)",
)

# file → (the final URL it was saved from, the verdict its README gives)
EXPECTED: dict[str, tuple[str, Status]] = {
    "sebihiy__nat__essonne-23014-2.html": (
        "https://www.essonne.gouv.fr/booking/create/23014/2",
        Status.FULL,
    ),
    "medsadok07__prefecture-bot__val-doise-11343-2.html": (
        "https://www.val-doise.gouv.fr/booking/create/11343/2",
        Status.FULL,
    ),
    "medsadok07__prefecture-bot__val-doise-11343-1.htm": (
        "https://www.val-doise.gouv.fr/booking/create/11343/1",
        Status.DOWN,
    ),
}


def test_every_real_page_has_an_expected_verdict() -> None:
    present = {p.name for p in REAL_PAGES.iterdir() if p.suffix in (".html", ".htm")}
    assert present == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("with_url", [True, False])
def test_real_page(name: str, with_url: bool) -> None:
    url, expected = EXPECTED[name]
    verdict = classify(200, {}, (REAL_PAGES / name).read_bytes(), url=url if with_url else None)
    assert verdict.status is expected, verdict.detail


@pytest.mark.parametrize("name", [n for n, (_, s) in EXPECTED.items() if s is Status.FULL])
def test_real_full_pages_name_their_step_from_the_first_h2(name: str) -> None:
    """The second h2 (« Contacts ») is inside #inner_Booking too; the step is the direct child."""
    verdict = classify(200, {}, (REAL_PAGES / name).read_bytes())
    assert verdict.step == "Vérification de disponibilité"


def test_overload_page_says_overloaded_not_full() -> None:
    body = (REAL_PAGES / "medsadok07__prefecture-bot__val-doise-11343-1.htm").read_bytes()
    verdict = classify(200, {}, body)
    assert verdict.status is Status.DOWN
    assert "surchargé" in verdict.detail
    entity = body.replace("surchargé".encode(), b"surcharg&eacute;")
    assert classify(200, {}, entity).status is Status.DOWN


def test_real_full_page_with_a_step3_active_image_planted_stays_full() -> None:
    body = (REAL_PAGES / "sebihiy__nat__essonne-23014-2.html").read_bytes()
    planted = body.replace(b"etape_3.png", b"etape_3r.png")
    assert planted != body
    url = "https://www.essonne.gouv.fr/booking/create/23014/3"
    assert classify(200, {}, planted, url=url).status is Status.FULL
