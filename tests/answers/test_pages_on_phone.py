"""The survey page and the invitation email on a 390 px phone and a 1280 px screen, in en, zh-Hans
and zh-Hant: no sideways scrolling, every scale point a visible 44 px button with its number, end labels
on one line each; the anonymity notice per survey setting; POST/redirect/GET; the SMS length."""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import fields
from pathlib import Path

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from survey_service.delivery.messages import compose
from survey_service.extensions import db
from survey_service.invitations.models import Invitation
from survey_service.invitations.service import Claim, ClaimedSurvey
from survey_service.invitations.tokens import new_token
from tests.answers.test_web import csrf_of
from tests.conftest import interaction
from tests.test_security_headers import CHROMIUM, chromium, csp_violations, live_url  # noqa: F401

LANGUAGES = ("en", "zh-Hans", "zh-Hant")
STATIC = Path(__file__).resolve().parents[2] / "survey_service" / "static"
NPS = {"key": "nps-visit", "name": "Visit NPS", "metric": "nps", "scale": {"min": 0, "max": 10},
       "interaction_types": ["visit"], "channels": ["email"], "delay_seconds": 1, "quiet_hours": None,
       "anonymity": "always",
       "texts": {"en": {"question": "How likely are you to recommend us to a friend or colleague?",
                        "labels": {"0": "Not at all likely", "10": "Extremely likely"}},
                 "zh-Hans": {"question": "您向朋友或同事推荐我们的可能性有多大？",
                             "labels": {"0": "完全不可能", "10": "极有可能"}},
                 "zh-Hant": {"question": "您向朋友或同事推薦我們的可能性有多大？",
                             "labels": {"0": "完全不可能", "10": "極有可能"}}}}
# Which seeded (or added) survey answers each interaction type, and its number of points.
SCALES = {5: ("csat-call", "call"), 7: ("ces-chat", "chat"), 11: ("nps-visit", "visit")}

# Runs inside the framed page: measures its own layout and writes it into the frame's parent, whose
# DOM --dump-dom prints. Only the test's own server serves it: the service's pages stay script-free.
MEASURE_JS = """
(function () {
  var d = document.documentElement;
  function box(el) { var r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, width: r.width, height: r.height}; }
  var out = {scrollWidth: d.scrollWidth, clientWidth: d.clientWidth, points: [], anchors: [], buttons: []};
  document.querySelectorAll('input[type=radio]').forEach(function (input) {
    var label = document.querySelector('label[for="' + input.id + '"]');
    var num = label && label.querySelector('.num');
    var style = label && getComputedStyle(label);
    out.points.push({value: input.value, fieldset: !!input.closest('fieldset'),
      visible: !!label && style.visibility === 'visible' && style.display !== 'none',
      box: label ? box(label) : null, number: num ? num.innerText.trim() : null,
      numberBox: num ? box(num) : null});
  });
  document.querySelectorAll('.anchors li').forEach(function (li) {
    out.anchors.push({text: li.innerText, box: box(li),
      lineHeight: parseFloat(getComputedStyle(li).lineHeight)});
  });
  document.querySelectorAll('a[href*="score="]').forEach(function (a) {
    out.buttons.push({text: a.innerText.replace(/\\s+/g, ' ').trim(), box: box(a),
      lineHeight: parseFloat(getComputedStyle(a).lineHeight)});
  });
  var pre = parent.document.createElement('pre');
  pre.id = 'measure'; pre.hidden = true; pre.textContent = JSON.stringify(out);
  parent.document.body.appendChild(pre);
})();
"""
FRAME = ('<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">'
         '<iframe src="/page/{name}" width="{width}" height="{height}" style="border:0;display:block">'
         '</iframe></body></html>')


@pytest.fixture
def frames():
    """A server of the test's own: each page in an iframe of the phone's exact width (headless Chromium
    will not make its window narrower than 500 px), with the measuring script added to the page."""
    pages: dict[str, str] = {}

    @Request.application
    def serve(request):
        path = request.path
        if path.startswith("/frame/"):
            width, height = request.args["width"], request.args["height"]
            return Response(FRAME.format(name=path[7:], width=width, height=height), mimetype="text/html")
        if path.startswith("/page/"):
            html = pages[path[6:]].replace("</body>", '<script src="/measure.js"></script></body>')
            return Response(html, mimetype="text/html")
        if path == "/measure.js":
            return Response(MEASURE_JS, mimetype="text/javascript")
        if path.startswith("/static/"):
            return Response((STATIC / path[8:]).read_bytes(), mimetype="text/css")
        return Response("not found", status=404)

    server = make_server("127.0.0.1", 0, serve, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.port}"

    def show(name: str, html: str, width: int, shot: Path) -> dict:
        """Lay the page out at `width`, screenshot it, and return what the page measured."""
        pages[name] = html
        height = 1500 if width < 500 else 1000
        run = chromium(f"{base}/frame/{name}?width={width}&height={height}", "--dump-dom",
                       f"--screenshot={shot}", f"--window-size={max(width, 500)},{height}",
                       width=max(width, 500))
        found = re.search(r'<pre id="measure" hidden="">(.*?)</pre>', run.stdout, re.S)
        assert found, run.stderr[-2000:]
        return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&")
                          .replace("&lt;", "<").replace("&gt;", ">"))

    yield show
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def invite(client, admin, seeded, app):
    """A sent invitation of the survey with `points` points, in `locale`: (token, invitation id)."""
    made = []

    def make(points: int, locale: str) -> tuple[str, int]:
        key, kind = SCALES[points]
        if key == "nps-visit" and not made:
            assert client.post("/api/v1/surveys", json=NPS, headers=admin).status_code == 201
        made.append(key)
        body = interaction(external_id=f"{kind}-{len(made)}", type=kind,
                           customer={"id": f"c-{len(made)}", "locale": locale, "email": "li@example.com",
                                     "phone": "+8613800138000"})
        res = client.post("/api/v1/interactions", json=body, headers=admin)
        assert res.status_code == 201, res.json
        [inv_id] = [i["id"] for i in res.json["invitations"] if i["survey"] == key]
        token, token_hash = new_token()
        with app.app_context():
            inv = db.session.get(Invitation, inv_id)
            inv.status, inv.token_hash = "sent", token_hash
            db.session.commit()
        return token, inv_id

    return make


def assert_fits(measured: dict, width: int, points: int) -> None:
    """No sideways scrolling; each point a visible button of at least 44 px showing its number."""
    assert measured["clientWidth"] == width
    assert measured["scrollWidth"] <= measured["clientWidth"], measured
    first = 0 if points == 11 else 1
    assert [p["value"] for p in measured["points"]] == [str(n) for n in range(first, first + points)]
    for point in measured["points"]:
        assert point["fieldset"] and point["visible"], point
        assert point["number"] == point["value"], point
        box = point["box"]
        assert box["width"] >= 44 and box["height"] >= 44, point
        assert box["left"] >= 0 and box["right"] <= width, point
        assert point["numberBox"]["width"] > 0 and point["numberBox"]["height"] > 0, point
    for anchor in measured["anchors"]:  # an end label is never broken across lines
        assert anchor["box"]["height"] < 1.5 * anchor["lineHeight"], anchor
        assert anchor["box"]["right"] <= width, anchor


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it)")
@pytest.mark.parametrize("points", [5, 7, 11])
def test_survey_page_fits_a_phone_and_a_screen_in_every_language(client, invite, frames, tmp_path,
                                                                 points):
    for locale in LANGUAGES:
        token, _ = invite(points, locale)
        res = client.get(f"/s/{token}")
        assert res.status_code == 200
        html = res.get_data(as_text=True)
        assert f'<html lang="{locale}">' in html
        for width in (390, 1280):
            shot = tmp_path / f"survey-{points}-{locale}-{width}.png"
            measured = frames(f"survey-{points}-{locale}-{width}", html, width, shot)
            assert_fits(measured, width, points)
            assert len(measured["anchors"]) == (3 if points == 7 else 2)
            assert shot.stat().st_size > 0


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it)")
def test_long_scale_wraps_into_two_even_rows_on_a_phone_and_one_row_on_a_screen(client, invite, frames,
                                                                                 tmp_path):
    token, _ = invite(11, "zh-Hans")
    html = client.get(f"/s/{token}").get_data(as_text=True)
    phone = frames("nps-phone", html, 390, tmp_path / "nps-phone.png")
    assert len({round(p["box"]["left"]) for p in phone["points"]}) == 6  # 0-5 over 6-10
    assert len({round(p["box"]["top"]) for p in phone["points"]}) == 2
    screen = frames("nps-screen", html, 1280, tmp_path / "nps-screen.png")
    assert len({round(p["box"]["left"]) for p in screen["points"]}) == 11
    assert len({round(p["box"]["top"]) for p in screen["points"]}) == 1


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it)")
def test_the_real_pages_run_under_their_csp(live_url, invite):  # noqa: F811
    token, _ = invite(11, "zh-Hant")
    run = chromium(f"{live_url}/s/{token}", "--dump-dom", width=500)
    assert csp_violations(run) == []
    assert 'id="score-10"' in run.stdout


def email_for(app, inv_id: int, token: str, incentive: bool = False, offer: dict | None = None,
              **texts) -> object:
    """The invitation email as compose() makes it for the worker (`texts`: extra words per locale)."""
    with app.app_context():
        inv = db.session.get(Invitation, inv_id)
        survey = inv.survey
        words = {locale: {**value, **texts.get(locale, {})} for locale, value in survey.texts.items()}
        claimed = ClaimedSurvey(**{f.name: getattr(survey, f.name) for f in fields(ClaimedSurvey)}
                                | {"texts": words, "incentive": offer or survey.incentive})
        return compose(Claim(token, inv.id, "email", "li@example.com", inv.locale, incentive, claimed,
                             "Wang Fang"))


OFFER = {"reward": "10% off your next order", "window_seconds": 86400, "holdout_rate": 0.1}
REWARDS = {"en": {"reward": "10% off your next order"}, "zh-Hans": {"reward": "下次购物九折优惠"},
           "zh-Hant": {"reward": "下次購物九折優惠"}}


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it)")
@pytest.mark.parametrize("points", [5, 7, 11])
def test_invitation_email_fits_a_phone_and_a_screen_with_a_number_on_every_button(
        app, invite, frames, tmp_path, points):
    for locale in LANGUAGES:
        token, inv_id = invite(points, locale)
        mail = email_for(app, inv_id, token, incentive=points == 5, offer=OFFER, **REWARDS)
        for width in (320, 390, 1280):
            shot = tmp_path / f"email-{points}-{locale}-{width}.png"
            measured = frames(f"email-{points}-{locale}-{width}", mail.html, width, shot)
            assert measured["clientWidth"] == width
            assert measured["scrollWidth"] <= width, measured
            buttons = measured["buttons"]
            first = 0 if points == 11 else 1
            assert [b["text"].split(" ")[0] for b in buttons] == [str(n) for n in
                                                                  range(first, first + points)]
            for button in buttons:
                assert button["box"]["height"] >= 44 and button["box"]["right"] <= width, button
                # Number and label on one line, the label never broken inside a word.
                assert button["box"]["height"] < 44 + button["lineHeight"], button


def test_email_names_the_brand_and_every_button_its_number_and_label(app, invite):
    token, inv_id = invite(7, "zh-Hans")
    mail = email_for(app, inv_id, token)
    assert mail.subject == "客户服务：请花几秒钟评价我们的服务"  # the default brand, in Chinese
    buttons = re.findall(r'<a href="[^"]*\?score=(\d+)"[^>]*>(.*?)</a>', mail.html)
    words = [re.sub(r"<[^>]+>", "", inner) for _, inner in buttons]
    assert words == ["1 非常不同意", "2", "3", "4 中立", "5", "6", "7 非常同意"]
    assert 'max-width:600px' in mail.html and ">客户服务</td>" in mail.html
    text = mail.text
    assert text.startswith("客户服务\n")
    assert "  1（非常不同意）：https://surveys.example.com/s/" in text
    assert "  2：https://surveys.example.com/s/" in text


def test_email_shows_reminder_line_unsubscribe_link_and_localized_reward(app, invite):
    from flask import render_template

    from survey_service.delivery.messages import context

    token, inv_id = invite(5, "zh-Hant")
    with app.app_context():
        inv = db.session.get(Invitation, inv_id)
        survey = inv.survey
        words = {locale: {**value, **REWARDS.get(locale, {})} for locale, value in survey.texts.items()}
        claimed = ClaimedSurvey(**{f.name: getattr(survey, f.name) for f in fields(ClaimedSurvey)}
                                | {"texts": words, "incentive": OFFER})
        ctx = context(Claim(token, inv.id, "email", "li@example.com", inv.locale, True, claimed, None))
        ctx |= {"reminder": True, "reminder_line": "提醒您：問卷即將結束。",
                "unsubscribe_url": "https://surveys.example.com/u/abc"}
        html = render_template("email/invitation.html", **ctx)
        text = render_template("email/invitation.txt", **ctx)
    for body in (html, text):
        assert "提醒您：問卷即將結束。" in body
        assert "在24小時內作答，即可獲得下次購物九折優惠。" in body
    assert '<a href="https://surveys.example.com/u/abc"' in html and "取消訂閱此類問卷" in html
    assert "取消訂閱此類問卷：https://surveys.example.com/u/abc" in text
    assert text.index("提醒您") < text.index("您可以在問卷頁面選擇匿名作答")


# -- the SMS --------------------------------------------------------------------------------------


def test_sms_names_sender_and_ends_within_two_segments_in_every_language(app, client, admin, seeded):
    """Every seeded survey, with its offer, in each language: two UCS-2 segments (134) in Chinese."""
    with app.app_context():
        from survey_service.surveys.models import Survey

        surveys = db.session.query(Survey).all()
        assert {s.key for s in surveys} >= {"csat-call", "ces-chat", "csat-purchase", "aes-agent"}
        for survey in surveys:
            for locale in LANGUAGES:
                words = {lang: {**value, **REWARDS.get(lang, {})} for lang, value in survey.texts.items()}
                claimed = ClaimedSurvey(**{f.name: getattr(survey, f.name) for f in fields(ClaimedSurvey)}
                                        | {"texts": words, "incentive": survey.incentive})
                token = secrets.token_urlsafe(32)  # as long as a real one
                sms = compose(Claim(token, 1, "sms", "+8613800138000", locale, True, claimed, "Wang Fang"))
                body = sms.text
                lo, hi = survey.scale_min, survey.scale_max
                if locale == "en":
                    assert body.isascii() and len(body) <= 2 * 153, body
                    assert body.startswith("Customer feedback: ")
                    assert f"Reply {lo}-{hi} ({lo} = " in body and "STOP" in body
                else:
                    assert len(body) <= 2 * 67, (len(body), body)
                    assert body.startswith("【客户服务】" if locale == "zh-Hans" else "【客戶服務】")
                    assert f"{lo}-{hi}（{lo}=" in body and ("退订" in body or "退訂" in body)
                    assert not re.search(r"[\u4e00-\u9fff][,:;?!()]|[,:;?!()][\u4e00-\u9fff]", body), body
                if survey.incentive:
                    assert REWARDS[locale]["reward"] in body


# -- the page's texts ------------------------------------------------------------------------------


def test_scale_is_real_radios_in_a_fieldset_each_labelled_with_its_number(client, invite):
    token, _ = invite(7, "zh-Hans")
    html = client.get(f"/s/{token}").get_data(as_text=True)
    fieldset = html[html.index("<fieldset>"):html.index("</fieldset>")]
    assert "<legend><h1>公司让我轻松地解决了我的问题。</h1></legend>" in fieldset
    for n in range(1, 8):
        assert re.search(rf'<input type="radio" name="score" value="{n}" +id="score-{n}" required>', fieldset)
        assert re.search(rf'<label for="score-{n}" class="point"><span class="num">{n}</span>', fieldset)
    assert '<li class="lo">1 = 非常不同意</li>' in fieldset
    assert '<li class="mid">4 = 中立</li>' in fieldset and '<li class="hi">7 = 非常同意</li>' in fieldset


NOTICES = {
    "optional": {"en": "You may choose to answer anonymously. If you tick the box below, your answer is kept "
                       "without your name, contact details or the exact time.",
                 "zh-Hans": "您可以选择匿名作答。勾选下方的方框后，您的回答在保存时不会附带您的姓名、"
                            "联系方式或确切时间；",
                 "zh-Hant": "您可以選擇匿名作答。勾選下方的方框後，您的回答在儲存時不會附帶您的姓名、"
                            "聯絡方式或確切時間；"},
    "always": {"en": "This survey is anonymous: your answer is kept without your name, contact details "
                     "or the exact time.",
               "zh-Hans": "本问卷为匿名问卷：您的回答在保存时不会附带您的姓名、联系方式或确切时间；",
               "zh-Hant": "本問卷為匿名問卷：您的回答在儲存時不會附帶您的姓名、聯絡方式或確切時間；"},
}
COUNTS = {"en": "The agent and team who helped you stay with it, so it still counts for them.",
          "zh-Hans": "为您服务的客服人员和团队会保留，因此您的评价仍会计入他们的成绩。",
          "zh-Hant": "為您服務的客服人員和團隊會保留，因此您的評價仍會計入他們的成績。"}


@pytest.mark.parametrize("anonymity", ["optional", "always", "never"])
@pytest.mark.parametrize("locale", LANGUAGES)
def test_anonymity_notice_says_what_the_survey_allows(client, sent, anonymity, locale):
    token, _ = sent(locale=locale, survey_changes={"anonymity": anonymity})
    html = client.get(f"/s/{token}").get_data(as_text=True)
    box = 'name="anonymous"' in html
    if anonymity == "never":
        assert 'class="note"' not in html and not box
        assert "anonym" not in html.lower() and "匿名" not in html
        return
    assert NOTICES[anonymity][locale] in html and COUNTS[locale] in html
    assert box == (anonymity == "optional")
    # "Not linked" is never claimed of an answer that is not (yet) anonymous.
    assert "not be linked" not in html and "不会与您关联" not in html and "不會與您關聯" not in html


def test_offer_uses_the_reward_in_the_page_language(client, sent, app):
    token, inv_id = sent(locale="zh-Hans", survey_changes={"incentive": OFFER})
    with app.app_context():
        inv = db.session.get(Invitation, inv_id)
        inv.incentive_offered = True
        # The survey's own words for its reward (texts.<locale>.reward, DESIGN 7), set as stored.
        inv.survey.texts = {**inv.survey.texts, "zh-Hans": {**inv.survey.texts["zh-Hans"],
                                                            "reward": "下次购物九折优惠"}}
        db.session.commit()
    html = client.get(f"/s/{token}").get_data(as_text=True)
    assert "在24小时内作答，即可获得下次购物九折优惠。" in html
    assert "off your next order" not in html
    english = client.get(f"/s/{token}?lang=en").get_data(as_text=True)
    assert "Answer within 24 hours and get 10% off your next order." in english


# -- POST/redirect/GET ----------------------------------------------------------------------------


def test_answer_redirects_to_a_thank_you_page_that_a_reload_never_resubmits(client, sent, app):
    from sqlalchemy import func, select

    from survey_service.answers.models import Response as Answer

    token, _ = sent(locale="zh-Hant")
    csrf = csrf_of(client.get(f"/s/{token}?lang=en").get_data(as_text=True))
    before = client.get(f"/s/{token}/thanks")
    assert before.status_code == 303 and before.headers["Location"] == f"/s/{token}"

    posted = client.post(f"/s/{token}?lang=en", data={"csrf_token": csrf, "score": "4"})
    assert posted.status_code == 303
    assert posted.headers["Location"] == f"/s/{token}/thanks?lang=en"
    for _ in range(2):  # a reload is a GET of the thank-you page
        thanks = client.get(posted.headers["Location"])
        assert thanks.status_code == 200 and "Thank you!" in thanks.get_data(as_text=True)
        assert thanks.headers["Cache-Control"] == "no-store"
    page = client.get(f"/s/{token}/thanks").get_data(as_text=True)
    assert '<html lang="zh-Hant">' in page and "謝謝您！" in page and "code" not in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 1


def test_thank_you_page_shows_the_code_and_reward_when_the_view_gives_one(app):
    from flask import render_template

    with app.test_request_context("/s/x/thanks"):
        html = render_template("web/thanks.html", locale="zh-Hans", incentive_code="K7Q2-9XPA",
                               incentive_reward="下次购物九折优惠")
    assert "您已获得下次购物九折优惠。" in html
    assert '您的奖励码：<strong class="code">K7Q2-9XPA</strong>' in html


# -- every page a respondent can reach, in their language -----------------------------------------


def test_error_pages_speak_the_invitations_language(client, sent, app):
    from datetime import timedelta

    from survey_service.db import utcnow

    token, _ = sent(locale="zh-Hans")
    refused = client.post(f"/s/{token}", data={"score": "5"})  # no CSRF token
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert '<html lang="zh-Hans">' in html and "表单未能提交" in html
    assert f'<a class="again" href="/s/{token}">重新打开问卷</a>' in html
    assert "Bad Request" not in html and "CSRF" not in html

    csrf = csrf_of(client.get(f"/s/{token}").get_data(as_text=True))
    client.post(f"/s/{token}", data={"csrf_token": csrf, "score": "5"})
    answered = client.get(f"/s/{token}")
    assert answered.status_code == 409 and "此问卷已经作答，谢谢您！" in answered.get_data(as_text=True)

    expired, inv2 = sent(external_id="call-2", locale="zh-Hans")
    with app.app_context():
        db.session.get(Invitation, inv2).expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    closed = client.get(f"/s/{expired}")
    assert closed.status_code == 410 and "抱歉，此问卷已不再开放。" in closed.get_data(as_text=True)


ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}


def test_unknown_token_and_other_pages_follow_the_browser(client, seeded):
    missing = client.get("/s/no-such-token", headers=ZH)
    assert missing.status_code == 404
    html = missing.get_data(as_text=True)
    assert '<html lang="zh-Hans">' in html and "找不到此问卷" in html and "Not Found" not in html
    tw = client.get("/s/no-such-token", headers={"Accept-Language": "zh-TW"}).get_data(as_text=True)
    assert '<html lang="zh-Hant">' in tw and "找不到此問卷" in tw
    asked = client.get("/s/no-such-token?lang=zh-Hant", headers={"Accept-Language": "en"})
    assert "找不到此問卷" in asked.get_data(as_text=True)
    assert "Survey not found" in client.get("/s/no-such-token").get_data(as_text=True)
    wrong_method = client.delete("/s/no-such-token", headers=ZH)
    assert wrong_method.status_code == 405 and "此页面不支持该操作" in wrong_method.get_data(as_text=True)
    elsewhere = client.get("/no-such-page", headers=ZH).get_data(as_text=True)
    assert "此页面无法显示" in elsewhere or "找不到此问卷" in elsewhere


def test_too_many_attempts_page_in_chinese(client, sent, app):
    token, _ = sent(locale="zh-Hans")
    limit = int(app.config["ANSWER_RATE_LIMIT_TOKEN"].split()[0])
    address = {"REMOTE_ADDR": "203.0.113.40"}
    pages = [client.get(f"/s/{token}", environ_base=address) for _ in range(limit + 1)]
    refused = pages[-1]
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert '<html lang="zh-Hans">' in html and "尝试次数过多" in html and "请稍等一分钟后再试。" in html


def test_server_error_page_in_chinese(app):
    from werkzeug.exceptions import InternalServerError

    from survey_service.errors import handle_http

    with app.test_request_context("/", headers=ZH):
        body, status = handle_http(InternalServerError())
    assert status == 500 and "出了点问题" in body and '<html lang="zh-Hans">' in body


@pytest.mark.parametrize("language, words", [("zh-Hans", "客户问卷"), ("zh-HK", "客戶問卷"),
                                             ("en-US", "Customer surveys"), ("fr", "Customer surveys")])
def test_home_page_in_the_visitors_language(client, language, words):
    html = client.get("/", headers={"Accept-Language": language}).get_data(as_text=True)
    assert words in html and 'href="/api/docs"' in html
