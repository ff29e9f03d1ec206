"""Signing a browser in with the API key (serving/login.py, serving/session.py, the key gate
in serving/middleware.py), through a real TestClient on the trained workspace."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from features.io import load_dataset
from serving.app import create_app
from serving.middleware import BoundedBody
from serving.settings import ServingSettings

ServingTrained = Callable[..., ServingSettings]  # the `serving_trained` fixture

KEY = "clé-secrète"
SESSION = hmac.new(KEY.encode(), b"influence browser session v1", hashlib.sha256).hexdigest()
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON_401 = {"detail": "Missing or wrong API key: send it in the X-API-Key header."}
WRONG_KEY = "That key is not the service&#39;s API key."  # as the page escapes it
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
"""What a browser adds to a request one of this service's own pages makes."""
ELSEWHERE = (
    "Refused: a signed-in browser may change things only from this service's own pages, "
    "and this request came from another page or did not say where from."
)
PLAN = {"brand": "northpeak", "topic": "running shoes", "budget": "2500", "objective": "clicks"}
SIGN_OUT = (
    '<form class="signout" action="/app/logout" method="post">'
    '<button type="submit">Sign out</button></form>'
)


@pytest.fixture(scope="module")
def keyed(
    serving_trained: ServingTrained, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The app with a key set, its model loaded, for the whole module."""
    settings = serving_trained(tmp_path_factory.mktemp("login"), api_key=KEY)
    with TestClient(create_app(settings), follow_redirects=False) as c:
        yield c


@pytest.fixture
def client(keyed: TestClient) -> Iterator[TestClient]:
    """The keyed app's client with no cookie, as a browser that never signed in."""
    keyed.cookies.clear()
    yield keyed
    keyed.cookies.clear()


def sign_in(client: TestClient, key: str = KEY, next_page: str = "/app/model") -> Any:
    return client.post("/app/login", data={"key": key, "next": next_page}, headers=BROWSER)


def test_a_browser_opening_a_page_without_the_key_is_sent_to_sign_in(client: TestClient) -> None:
    for page, login in (
        ("/app/accounts/a1?x=1", "/app/login?next=/app/accounts/a1%3Fx%3D1"),
        ("/app/model", "/app/login?next=/app/model"),
        ("/", "/app/login?next=/app/"),
        ("/docs", "/app/login?next=/docs"),
        ("/redoc", "/app/login?next=/redoc"),
    ):
        r = client.get(page, headers=BROWSER)
        assert (r.status_code, r.headers["location"]) == (303, login), page
    form = client.get("/app/login?next=/app/model", headers=BROWSER)
    assert form.status_code == 200
    assert '<form action="/app/login" method="post">' in form.text
    assert '<input type="hidden" name="next" value="/app/model">' in form.text
    assert 'type="password" name="key"' in form.text
    assert "Sign out" not in form.text
    assert "/app/logout" not in form.text


def test_api_clients_still_get_the_json_401(client: TestClient) -> None:
    for method, path, headers in (
        ("get", "/app/model", {}),  # curl and API clients accept */*, not text/html
        ("get", "/model", BROWSER),  # not a page, even for a browser
        ("get", "/docs/assets/swagger-ui.css", BROWSER),
        ("get", "/openapi.json", BROWSER),
        ("post", "/rank", BROWSER),
        ("post", "/app/accounts", BROWSER),
    ):
        r = getattr(client, method)(path, headers=headers)
        assert (r.status_code, r.json()) == (401, JSON_401), path
    cookie = {"Cookie": "influence_session=" + SESSION[:-1] + "0"}
    r = client.get("/model", headers=cookie)
    assert (r.status_code, r.json()) == (401, JSON_401)


def test_a_wrong_key_shows_the_form_again_and_sets_no_cookie(client: TestClient) -> None:
    for wrong in ("wrong", "", KEY[:-1], SESSION):  # the cookie's value is not the key
        r = sign_in(client, wrong)
        assert r.status_code == 401, wrong
        assert r.headers["content-type"].startswith("text/html")
        assert f'<p class="flag">{WRONG_KEY}</p>' in r.text
        assert '<input type="hidden" name="next" value="/app/model">' in r.text
        assert "set-cookie" not in r.headers
    no_field = client.post("/app/login", data={"next": "/app/"}, headers=BROWSER)
    assert (no_field.status_code, WRONG_KEY in no_field.text) == (401, True)


def test_the_right_key_sets_a_session_cookie_that_is_not_the_key(client: TestClient) -> None:
    r = sign_in(client)
    assert (r.status_code, r.headers["location"]) == (303, "/app/model")
    cookie = r.headers["set-cookie"]
    value, *attributes = [part.strip() for part in cookie.split(";")]
    assert value == f"influence_session={SESSION}"
    assert sorted(a.lower() for a in attributes) == ["httponly", "path=/", "samesite=lax"]


def test_the_cookie_is_secure_when_the_sign_in_came_over_https(
    serving_trained: ServingTrained, tmp_path: Path
) -> None:
    app = create_app(serving_trained(tmp_path, api_key=KEY))  # no lifespan: no model needed
    https = TestClient(app, base_url="https://testserver", follow_redirects=False)
    r = https.post("/app/login", data={"key": KEY, "next": "/docs"})
    assert (r.status_code, r.headers["location"]) == (303, "/docs")
    assert "secure" in [part.strip().lower() for part in r.headers["set-cookie"].split(";")]


def test_a_signed_in_browser_reads_the_pages_the_docs_and_the_api(
    client: TestClient, trained: Path
) -> None:
    sign_in(client)
    home = client.get("/app/", headers=BROWSER)
    assert home.status_code == 200
    assert SIGN_OUT in home.text
    missing = client.get("/app/accounts/nobody", headers=BROWSER)
    assert (missing.status_code, "No account &#39;nobody&#39;" in missing.text) == (404, True)
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/assets/swagger-ui.css", "/model"):
        assert client.get(path).status_code == 200, path
    # Swagger UI's "Try it out" posts with the cookie and no header, from the docs' page.
    account = str(load_dataset(trained / "world").placements["account_id"].iloc[0])
    body = {
        "campaign": {"brand": "northpeak", "topic": "running shoes"},
        "candidates": [{"account_id": account, "cost": 50}],
    }
    by_cookie = client.post("/predict", json=body, headers=SAME_ORIGIN)
    assert by_cookie.status_code == 200
    assert by_cookie.json()["scores"][0]["account_id"] == account
    client.cookies.clear()
    by_header = client.post("/predict", json=body, headers={"X-API-Key": KEY.encode()})
    assert by_header.status_code == 200


def test_a_page_s_address_comes_back_as_the_browser_sent_it(client: TestClient) -> None:
    r = client.get("/app/accounts/zoë 100%", headers=BROWSER)
    assert r.headers["location"] == "/app/login?next=/app/accounts/zo%25C3%25AB%2520100%2525"
    form = client.get(r.headers["location"], headers=BROWSER)
    field = '<input type="hidden" name="next" value="/app/accounts/zo%C3%AB%20100%25">'
    assert field in form.text
    back = sign_in(client, next_page="/app/accounts/zo%C3%AB%20100%25")
    assert back.headers["location"] == "/app/accounts/zo%C3%AB%20100%25"


def test_a_signed_in_browser_opening_the_form_goes_on(client: TestClient) -> None:
    sign_in(client)
    r = client.get("/app/login?next=/app/accounts/a1", headers=BROWSER)
    assert (r.status_code, r.headers["location"]) == (303, "/app/accounts/a1")


@pytest.mark.parametrize(
    "next_page",
    [
        "//evil.example/app/",
        "https://evil.example/app/",
        "/\\evil.example",
        "\\\\evil.example/app/",
        "/app",
        "/metrics",
        "/admin/reload",
        "/app/\r\nSet-Cookie: x=1",
        "/app/é",
        "/app/..//evil.example",
        "/app/../metrics",
        "/app/%2e%2e/admin/reload",
        "/app/%2E%2E//evil.example",
        "/app/.%2e/metrics",
        "/app/./model",
        "/app/accounts/%2E",
        "",
    ],
)
def test_sign_in_sends_the_browser_to_no_other_site(client: TestClient, next_page: str) -> None:
    r = sign_in(client, next_page=next_page)
    assert (r.status_code, r.headers["location"]) == (303, "/app/")
    form = client.get("/app/login", params={"next": next_page}, headers=BROWSER)
    assert (form.status_code, form.headers["location"]) == (303, "/app/")  # signed in now


def test_signing_out_forgets_the_cookie(client: TestClient) -> None:
    sign_in(client)
    assert client.get("/app/", headers=BROWSER).status_code == 200
    # A GET changes nothing: a page with the one button that signs out.
    page = client.get("/app/logout", headers=BROWSER)
    assert page.status_code == 200
    assert '<form action="/app/logout" method="post">' in page.text
    assert '<button type="submit">Sign out of this browser</button>' in page.text
    assert "set-cookie" not in page.headers
    assert client.get("/app/", headers=BROWSER).status_code == 200  # still signed in
    elsewhere = client.post("/app/logout", headers={**BROWSER, "Sec-Fetch-Site": "same-site"})
    assert elsewhere.status_code == 403
    assert f"<p>{ELSEWHERE.replace(chr(39), '&#x27;')}</p>" in elsewhere.text
    assert "set-cookie" not in elsewhere.headers
    r = client.post("/app/logout", headers={**BROWSER, **SAME_ORIGIN})
    assert (r.status_code, r.headers["location"]) == (303, "/app/login")
    parts = [part.strip().lower() for part in r.headers["set-cookie"].split(";")]
    assert parts[0] == 'influence_session=""'
    assert "max-age=0" in parts
    assert "influence_session" not in client.cookies
    again = client.get("/app/", headers=BROWSER)
    assert (again.status_code, again.headers["location"]) == (303, "/app/login?next=/app/")


def test_the_body_of_a_refused_post_is_never_read(client: TestClient) -> None:
    sent: list[bytes] = []

    def body() -> Iterator[bytes]:
        sent.append(b'{"campaign": ')
        yield sent[-1]

    wrong_cookie = {"Cookie": "influence_session=" + "0" * 64, **BROWSER}
    r = client.post("/rank", content=body(), headers={"content-type": "application/json"})
    assert (r.status_code, r.json(), sent) == (401, JSON_401, [])
    r = client.post("/rank", content=body(), headers=wrong_cookie)
    assert (r.status_code, r.json(), sent) == (401, JSON_401, [])


def test_the_login_form_s_body_is_small(client: TestClient) -> None:
    r = client.post("/app/login", data={"key": "k" * 5000, "next": "/app/"})
    assert (r.status_code, r.json()["detail"]) == (
        413,
        "The request body is larger than the limit of 4096 bytes for this path.",
    )


def test_without_a_key_there_is_nothing_to_sign_in_to(
    serving_trained: ServingTrained, tmp_path: Path
) -> None:
    plain = TestClient(create_app(serving_trained(tmp_path)), follow_redirects=False)
    r = plain.get("/app/login?next=/app/model", headers=BROWSER)
    assert (r.status_code, r.headers["location"]) == (303, "/app/model")
    r = plain.post("/app/login", data={"key": "anything", "next": "/docs"})
    assert (r.status_code, r.headers["location"]) == (303, "/docs")
    assert "set-cookie" not in r.headers


def test_login_bodies_take_no_place_in_flight() -> None:
    """A client without the key trickling login forms cannot make the API answer 503."""
    answered: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        answered.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    bounded = BoundedBody(app, 1_000_000, 1, 5.0, small_paths={"/app/login": 4096})
    started: list[int] = []

    async def main() -> None:
        held = anyio.Event()

        async def trickle() -> Message:
            await held.wait()
            return {"type": "http.request", "body": b"key=k", "more_body": False}

        async def whole() -> Message:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.append(int(message["status"]))

        def scope(path: str) -> Scope:
            return {"type": "http", "method": "POST", "path": path, "headers": []}

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(bounded, scope("/app/login"), trickle, record)
            await anyio.sleep(0.01)
            assert bounded.in_flight == 0
            await bounded(scope("/predict"), whole, record)
            held.set()

    anyio.run(main)
    assert (answered, started) == (["/predict", "/app/login"], [200, 200])


def test_the_login_form_with_too_many_fields_is_the_form_again(client: TestClient) -> None:
    fields = {"key": KEY, "next": "/app/model", **{f"f{i}": "x" for i in range(7)}}  # 9
    r = client.post("/app/login", data=fields, headers=BROWSER)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    said = "That was not this page&#39;s form: type the key below and sign in."
    assert f'<p class="flag">{said}</p>' in r.text
    assert '<input type="hidden" name="next" value="/app/">' in r.text
    assert "set-cookie" not in r.headers


def test_pages_and_the_login_answer_head_as_get(client: TestClient) -> None:
    for path in ("/app/login", "/app/logout"):
        head, get = client.head(path, headers=BROWSER), client.get(path, headers=BROWSER)
        assert (head.status_code, head.content) == (200, b""), path
        assert head.headers["content-type"] == get.headers["content-type"], path
    assert client.head("/app/model", headers=BROWSER).headers["location"] == (
        "/app/login?next=/app/model"
    )
    sign_in(client)
    for path, status in (
        ("/app/", 200),
        ("/app/model", 200),
        ("/app/accounts/nobody", 404),
        ("/app/accounts?account_id=a1", 303),
        ("/", 307),
        ("/docs", 200),
        ("/redoc", 200),
    ):
        head = client.head(path, headers=BROWSER)
        assert (head.status_code, head.content) == (status, b""), path


def test_html_answers_cannot_be_framed_and_json_ones_say_nothing_of_it(
    client: TestClient,
) -> None:
    framed = ("frame-ancestors 'none'", "DENY")
    form = client.get("/app/login", headers=BROWSER)
    assert (form.headers["content-security-policy"], form.headers["x-frame-options"]) == framed
    sign_in(client)
    for path in ("/app/", "/app/model", "/app/accounts/nobody", "/app/logout", "/docs", "/redoc"):
        r = client.get(path, headers=BROWSER)
        assert r.headers["content-type"].startswith("text/html"), path
        assert (r.headers["content-security-policy"], r.headers["x-frame-options"]) == framed
    api = client.get("/model")
    assert "content-security-policy" not in api.headers
    assert "x-frame-options" not in api.headers


def test_a_form_from_another_port_of_this_host_is_refused(client: TestClient) -> None:
    """SameSite ignores ports: a page on 127.0.0.1:9999 (a notebook, MLflow's UI) posting
    to this service on another port carries the cookie, and must be refused on its headers,
    before its body is read."""
    sign_in(client)
    sent: list[bytes] = []

    def body() -> Iterator[bytes]:
        sent.append(b"brand=northpeak")
        yield sent[-1]

    cross_port = {"Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"}
    for headers in (
        cross_port,
        {"Origin": "http://127.0.0.1:9999"},  # a browser without Sec-Fetch-Site
        {"Origin": "http://testserver", "Sec-Fetch-Site": "cross-site"},  # Fetch is believed
        {"Sec-Fetch-Site": "none"},  # typed in the address bar: no page of ours sent it
        {"Origin": "null"},
        {},  # says nowhere: refused, not guessed
    ):
        plain = {"Content-Type": "text/plain", **headers}
        r = client.post("/admin/reload", content=body(), headers=plain)
        assert (r.status_code, r.json(), sent) == (403, {"detail": ELSEWHERE}, []), headers
    # The planner's form, from a browser: the same sentence, as a page.
    form = {"Content-Type": "multipart/form-data; boundary=x", **BROWSER, **cross_port}
    page = client.post("/app/plan", content=body(), headers=form)
    assert (page.status_code, sent) == (403, [])
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert f"<p>{ELSEWHERE.replace(chr(39), '&#x27;')}</p>" in page.text
    assert page.headers["content-security-policy"] == "frame-ancestors 'none'"
    # GETs change nothing and go through from anywhere, as a link followed does.
    assert client.get("/model", headers=cross_port).status_code == 200


def test_the_planner_posts_from_its_own_page(client: TestClient) -> None:
    sign_in(client)
    for headers in (SAME_ORIGIN, {"Origin": "http://testserver"}):
        page = client.post("/app/plan", data=PLAN, files={}, headers={**BROWSER, **headers})
        assert page.status_code == 200, headers
        assert '<table id="portfolio">' in page.text


def test_clients_with_the_key_in_the_header_may_post_from_anywhere(client: TestClient) -> None:
    header = {"X-API-Key": KEY.encode(), "Origin": "http://127.0.0.1:9999"}
    for headers in (header, {**header, "Sec-Fetch-Site": "cross-site"}):
        r = client.post("/admin/reload", headers=headers)
        assert r.status_code == 200, headers
