"""Which requests a signed-in browser may make (serving/session.py): where signing in may
send it back to, and which requests come from this service's own pages. Plain functions of
strings and headers; the gate and the sign-in that use them are tested in test_login.py."""

from __future__ import annotations

from starlette.types import Scope

from serving.session import safe_next, same_origin


def test_only_this_app_s_pages_are_places_to_come_back_to() -> None:
    assert safe_next("/app/accounts/a1?x=1", "") == "/app/accounts/a1?x=1"
    assert safe_next("/docs", "") == "/docs"
    assert safe_next("/redoc", "") == "/redoc"
    assert safe_next("/docs/assets/x.js", "") == "/app/"
    # Behind a proxy that mounts the app under a prefix, the prefix is part of the page.
    assert safe_next("/influence/app/model", "/influence") == "/influence/app/model"
    assert safe_next("/app/model", "/influence") == "/influence/app/"
    assert safe_next(None, "/influence") == "/influence/app/"
    # Dots inside a segment are a name, not a step up.
    assert safe_next("/app/accounts/a..b", "") == "/app/accounts/a..b"
    assert safe_next("/app/accounts/.hidden%2e", "") == "/app/accounts/.hidden%2e"


def test_an_origin_is_its_scheme_host_and_port() -> None:
    def scope(scheme: str, host: str, **sent: str) -> Scope:
        headers = [(b"host", host.encode())]
        headers += [(k.replace("_", "-").encode(), v.encode()) for k, v in sent.items()]
        return {"type": "http", "scheme": scheme, "headers": headers}

    assert same_origin(scope("http", "127.0.0.1:8000", origin="http://127.0.0.1:8000"))
    assert same_origin(scope("http", "Example.com", origin="http://example.com:80"))
    assert same_origin(scope("https", "example.com:443", origin="https://example.com"))
    assert same_origin(scope("http", "[::1]:8000", origin="http://[::1]:8000"))
    assert not same_origin(scope("http", "127.0.0.1:8000", origin="http://127.0.0.1:9999"))
    assert not same_origin(scope("https", "example.com", origin="http://example.com"))
    assert not same_origin(scope("http", "example.com", origin="http://example.com.evil"))
    assert not same_origin(scope("http", "example.com", origin="http://example.com/path"))
    assert not same_origin(scope("http", "example.com", origin="http://example.com:port"))
    assert not same_origin(scope("http", "example.com"))
    # Sec-Fetch-Site, when sent, decides: a browser sets it and no page can.
    both = {"origin": "http://example.com", "sec_fetch_site": "same-site"}
    assert not same_origin(scope("http", "example.com", **both))
    assert same_origin(scope("http", "example.com", sec_fetch_site="same-origin"))
