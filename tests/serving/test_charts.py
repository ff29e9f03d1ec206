"""`serving.charts`: a chart is the same SVG text each time it is drawn, the ids matplotlib
draws at random its own (two charts of one page never share one; the glyphs' ids, the same
definitions, may repeat), every reference naming an element it holds."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from serving.charts import engagement_chart, followers_chart
from serving.profile_schemas import AccountProfile


def test_charts_are_repeatable_and_their_ids_their_own(
    api_client: TestClient, known_accounts: list[str]
) -> None:
    answer = api_client.get(f"/accounts/{known_accounts[0]}")
    profile = AccountProfile.model_validate(answer.json())
    followers, engagement = followers_chart(profile), engagement_chart(profile)
    assert followers_chart(profile) == followers
    assert engagement_chart(profile) == engagement
    ids = [set(re.findall(r'\bid="([^"]+)"', svg)) for svg in (followers, engagement)]
    own = [{i for i in held if i.startswith("c")} for held in ids]
    assert own[0]
    assert own[1]
    assert not own[0] & own[1]
    for svg, held in zip((followers, engagement), ids, strict=True):
        named = set(re.findall(r'(?:href="#|url\(#)([^")]+)', svg))
        assert named
        assert named <= held
        assert not re.search(r'\bid="[a-z][0-9a-f]{10}"', svg)  # no random id left
