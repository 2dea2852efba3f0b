"""The web survey page: language, labels, preselection, CSRF, single use, 404 and 410 pages."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from survey_service.answers.models import Response
from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.invitations.models import Invitation


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_page_in_chinese_with_labels_and_anonymity_box(client, sent):
    token, _ = sent(locale="zh-Hans")
    res = client.get(f"/s/{token}")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert '<html lang="zh-Hans">' in html
    assert "您对今天的通话服务满意吗？" in html
    assert "非常不满意" in html and "非常满意" in html
    assert 'name="anonymous"' in html
    assert "您可以选择匿名作答" in html
    assert 'name="viewport"' in html


def test_traditional_chinese_falls_back_per_text(client, sent, admin):
    client.patch("/api/v1/surveys/csat-call", headers=admin, json={"texts": {
        "zh-Hant": {"question": "您滿意嗎？"}, "zh-Hans": {"question": "满意吗？",
                                                          "reason_prompt": "原因？"}}})
    token, _ = sent(locale="zh-TW")
    html = client.get(f"/s/{token}").get_data(as_text=True)
    assert "您滿意嗎？" in html and "原因？" in html
    assert "您可以選擇匿名作答。" in html


def test_three_label_scale_shows_words(client, sent, admin):
    labels = {"1": "不满意", "2": "有些满意", "3": "非常满意"}
    token, _ = sent(survey_changes={"scale": {"min": 1, "max": 3},
                                    "texts": {"zh-Hans": {"question": "满意吗？", "labels": labels}}})
    html = client.get(f"/s/{token}").get_data(as_text=True)
    for word in labels.values():
        assert word in html
    assert 'value="4"' not in html


def test_score_in_link_preselects_and_records_nothing(client, sent, app):
    token, inv_id = sent()
    html = client.get(f"/s/{token}?score=4").get_data(as_text=True)
    assert re.search(r'value="4"\s+checked', html)
    assert client.get(f"/s/{token}?score=99").status_code == 200
    with app.app_context():
        assert db.session.scalars(select(Response)).all() == []
        assert db.session.get(Invitation, inv_id).status == "sent"


def test_post_records_once_then_already_answered(client, sent, app):
    token, _inv_id = sent(locale="en")
    html = client.get(f"/s/{token}").get_data(as_text=True)
    form = {"csrf_token": csrf_of(html), "score": "5", "reason": "Quick and kind",
            "anonymous": "y"}
    res = client.post(f"/s/{token}", data=form)
    assert res.status_code == 303
    assert res.headers["Location"] == f"/s/{token}/thanks"
    assert "Thank you" in client.get(res.headers["Location"]).get_data(as_text=True)
    again = client.post(f"/s/{token}", data=form)
    assert again.status_code == 409
    assert "already been answered" in again.get_data(as_text=True)
    assert "already been answered" in client.get(f"/s/{token}").get_data(as_text=True)
    with app.app_context():
        [row] = db.session.scalars(select(Response)).all()
        assert row.score == 5 and row.anonymous and row.reason == "Quick and kind"


def test_post_without_csrf_is_refused_and_records_nothing(client, sent, app):
    token, _ = sent()
    res = client.post(f"/s/{token}", data={"score": "5"})
    assert res.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(Response)).all() == []


def test_post_without_score_shows_error_in_language(client, sent, app):
    token, _ = sent(locale="zh-Hans")
    html = client.get(f"/s/{token}").get_data(as_text=True)
    res = client.post(f"/s/{token}", data={"csrf_token": csrf_of(html), "reason": "x"})
    assert res.status_code == 422
    assert "请选择一个分数" in res.get_data(as_text=True)


def test_expired_token_gets_410_page(client, sent, app):
    token, inv_id = sent(locale="en")
    with app.app_context():
        db.session.get(Invitation, inv_id).expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    res = client.get(f"/s/{token}")
    assert res.status_code == 410
    assert "no longer open" in res.get_data(as_text=True)


def test_unknown_token_gets_404_page(client, seeded):
    res = client.get("/s/unknown-token")
    assert res.status_code == 404
    assert res.mimetype == "text/html"
