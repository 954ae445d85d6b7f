"""``[monitor] proxy`` (issue 10): requests to the prefecture go through it, and only they.

Checked through local proxies on 127.0.0.1 that count what passes through them
(:mod:`tests.counting_proxy`); the booking is the simulator, the notification
target a local receiver, so nothing leaves this machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.errors import ConfigError
from tests.conftest import RENEWAL
from tests.counting_proxy import HttpProxy, Socks5Proxy

SECRET = "pr0xyPassw0rd"


def test_check_goes_through_an_http_proxy_and_shows_it_masked(sim, write_config, cli) -> None:
    with HttpProxy(auth=("bob", SECRET)) as proxy:
        path = write_config(
            [{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": ["3.1"]}],
            monitor={"proxy": proxy.url},
        )
        result = cli("check", "-c", str(path), "--json")
    assert result.code == 0, result.err
    (row,) = result.json_lines()
    assert row["status"] == "full"
    assert proxy.requests, "the prefecture was asked through the proxy"
    assert all(
        r.startswith(("GET http://127.0.0.1", "POST http://127.0.0.1")) for r in proxy.requests
    )
    assert "through proxy http://bob:****@127.0.0.1:" in result.err
    assert SECRET not in result.out + result.err


def test_a_watch_may_have_its_own_proxy_and_socks5_works(sim, write_config, cli) -> None:
    with Socks5Proxy(auth=("alice", SECRET)) as socks, HttpProxy() as http:
        path = write_config(
            [
                {
                    "name": "a",
                    "url": sim.booking_url(RENEWAL),
                    "calendars": ["3.1"],
                    "proxy": socks.url,
                },
                {"name": "b", "url": sim.booking_url(RENEWAL), "calendars": ["3.2"]},
            ],
            monitor={"proxy": http.url},
        )
        result = cli("check", "-c", str(path), "--json")
    assert result.code == 0, result.err
    assert [r["status"] for r in result.json_lines()] == ["full", "full"]
    assert socks.requests and socks.refused == 0
    assert http.requests
    assert SECRET not in result.out + result.err


def test_notifications_do_not_go_through_the_proxy(sim, write_config, cli) -> None:
    from tests.receiver import LocalTarget

    with HttpProxy() as proxy, LocalTarget() as target:
        path = write_config(
            [{"name": "r", "url": sim.booking_url(RENEWAL), "calendars": ["3.1"]}],
            monitor={"proxy": proxy.url},
            notify={"urls": [target.url]},
        )
        result = cli("notify-test", "-c", str(path))
        assert result.code == 0, result.err
        assert target.wait_for(1, timeout=10)
    assert proxy.requests == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"proxy.example.net:3128"', "must start with http://"),
        ('"ftp://proxy.example.net:21"', "ftp:// is not a proxy"),
        ('"http://proxy.example.net"', "has no port"),
        ('"http://bob:secretpass@proxy.example.net:3128/path"', "a path or query"),
        ("3128", "expected a proxy address in double quotes"),
    ],
)
def test_a_proxy_of_the_wrong_form_is_refused_masked(
    tmp_path: Path, value: str, expected: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[monitor]\nproxy = {value}\n[[watch]]\nname = "r"\n'
        'url = "https://www.haute-savoie.gouv.fr/booking/create/29396"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "[monitor] proxy" in message and expected in message
    assert "secretpass" not in message


def test_the_proxy_password_is_not_in_repr(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[monitor]\nproxy = "socks5://u:{SECRET}@10.0.0.2:1080"\n[[watch]]\nname = "r"\n'
        'url = "https://www.haute-savoie.gouv.fr/booking/create/29396"\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.proxy_for(config.watches[0]) == f"socks5://u:{SECRET}@10.0.0.2:1080"
    assert SECRET not in repr(config)
    assert SECRET in config.proxy_secrets
