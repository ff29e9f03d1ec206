"""/docs and /redoc work offline, and the schema's request examples succeed as sent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.examples import DEMO_CAMPAIGN
from serving.settings import ServingSettings

HOST = "http://testserver"
TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
    ".json": ("application/json",),
}


def settings_for(root: Path, tmp: Path, **overrides: object) -> ServingSettings:
    return ServingSettings(
        data_dir=root / "world",
        model_uri=str(root / "models" / "champion.json"),
        decision_log=str(tmp / "decisions.db"),
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def client(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(trained, tmp_path_factory.mktemp("docs")))) as c:
        yield c


class References(HTMLParser):
    """Every URL a page names: in attributes, and quoted in its inline scripts and styles."""

    ATTRIBUTES = frozenset({"src", "href", "spec-url", "action", "poster", "data"})

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._inline = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in self.ATTRIBUTES and v is not None]
        self._inline = tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._inline = False

    def handle_data(self, data: str) -> None:
        if self._inline:
            self.urls += re.findall(r"https?://[^\s'\"`)]+|//[\w.-]+\.\w+[^\s'\"`)]*", data)
            self.urls += re.findall(r"""['"`](/[^'"`\s]*)['"`]""", data)
            self.urls += css_urls(data)


def css_urls(css: str) -> list[str]:
    """The targets of `url(...)` and `@import "..."`; inline `data:` URIs fetch nothing."""
    found = re.findall(r"""url\(\s*['"]?([^'")]+?)['"]?\s*\)""", css)
    found += re.findall(r"""@import\s+['"]([^'"]+)['"]""", css)
    return [u for u in found if not u.startswith("data:")]


def own(url: str, base: str) -> str:
    """`url` resolved against `base`; fails unless it is relative or on the test host."""
    resolved = urljoin(base, url)
    parts = urlsplit(resolved)
    assert f"{parts.scheme}://{parts.netloc}" == HOST, f"{url!r} on {base} is not the app's"
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_name_only_the_apps_own_assets(client: TestClient, page: str) -> None:
    r = client.get(page)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    parser = References()
    parser.feed(r.text)
    paths = {own(u, HOST + page) for u in parser.urls}
    assert "/openapi.json" in paths
    assert any(p.endswith(".js") for p in paths), paths
    for path in sorted(paths):
        asset = client.get(path)
        assert asset.status_code == 200, path
        kind = asset.headers["content-type"].split(";")[0]
        assert kind in TYPES[Path(urlsplit(path).path).suffix], (path, kind)
        if kind == "text/css":
            for url in css_urls(asset.text):
                assert client.get(own(url, HOST + path)).status_code == 200, url


def test_neither_ui_fetches_anything_by_itself(client: TestClient) -> None:
    # What the bundles would fetch at run time, beyond what the pages name: Swagger UI's
    # validator badge, ReDoc's Google Fonts and Redocly's logo (a browser found it).
    assert '"validatorUrl": null' in client.get("/docs").text
    assert "fonts.googleapis.com" not in client.get("/redoc").text
    redoc = client.get("/docs/assets/redoc.standalone.js")
    assert redoc.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "cdn.redoc.ly" not in redoc.text
    assert 'src:"data:image/gif;base64,' in redoc.text


def test_request_examples_succeed_as_sent(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    bodies = {
        path: ops["post"]["requestBody"]["content"]["application/json"]
        for path, ops in spec["paths"].items()
        if "requestBody" in ops.get("post", {})
    }
    assert set(bodies) == {"/predict", "/rank", "/discover"}
    for path, body in bodies.items():
        names = ["anyone", "micro"] if path == "/discover" else ["served_accounts", "new_account"]
        assert list(body["examples"]) == names, path
        for name, example in body["examples"].items():
            r = client.post(path, json=example["value"])
            assert r.status_code == 200, (path, name, r.text)
            out = r.json()
            assert out["errors"] == [], (path, name)
            if path == "/predict":
                sent = [c["account_id"] for c in example["value"]["candidates"]]
                assert [s["account_id"] for s in out["scores"]] == sent
            else:
                assert out["portfolio"]["account_ids"], (path, name)
                assert out["portfolio"]["cost"] <= example["value"]["budget"]


def test_examples_name_the_served_data_accounts(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    example = spec["paths"]["/rank"]["post"]["requestBody"]["content"]["application/json"][
        "examples"
    ]["served_accounts"]["value"]
    state = client.app.state.current  # type: ignore[attr-defined]
    assert len(example["candidates"]) == 4
    assert all(c["account_id"] in state.post_counts for c in example["candidates"])
    latest = state.histories.campaigns.sort_values("starts_at").iloc[-1]
    assert example["campaign"] == {"brand": latest["brand"], "topic": latest["topic"]}
    assert example["budget"] < sum(c["cost"] for c in example["candidates"])


def test_docs_and_assets_need_the_key(trained: Path, tmp_path: Path) -> None:
    # Without the lifespan: no model is loaded, and the key gate is in front all the same.
    app = create_app(settings_for(trained, tmp_path, api_key="s3cret"))
    plain = TestClient(app)
    keyed = TestClient(app, headers={"X-API-Key": "s3cret"})
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/assets/swagger-ui.css"):
        assert plain.get(path).status_code == 401, path
        assert keyed.get(path).status_code == 200, path
    spec = keyed.get("/openapi.json").json()
    for path in ("/predict", "/rank"):
        examples = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert list(examples["examples"]) == ["new_account"], path
    discover = spec["paths"]["/discover"]["post"]["requestBody"]["content"]["application/json"]
    assert discover["examples"]["anyone"]["value"]["campaign"] == DEMO_CAMPAIGN
