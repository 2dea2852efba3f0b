"""Every /twilio/ webhook needs Twilio's signature for the public URL; otherwise 403, nothing done."""

from __future__ import annotations

from urllib.parse import quote
from xml.etree import ElementTree

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from survey_service.answers.models import Conversation, InboundMessage, Response
from survey_service.extensions import db
from tests.twilio.conftest import AUTH_TOKEN, PUBLIC, intake, sent_invitation, sign, stored_invitation

REPLY = {"MessageSid": "SM" + "a" * 32, "From": "+8613800138000", "To": "+15005550006", "Body": "5"}


def _nothing_recorded(app):
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)) == 0
        assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_signed_reply_is_taken(app, client, admin, sms_surveys, twilio_api, webhook):
    sent_invitation(app, client, admin)
    res = webhook("/twilio/sms", REPLY)
    assert res.status_code == 200 and res.content_type.startswith("text/xml")


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl", "s\u00efgn\u00e9", None])
def test_missing_or_forged_signature_is_403(app, client, admin, sms_surveys, twilio_api, signature):
    sent_invitation(app, client, admin)
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    res = client.post("/twilio/sms", data=REPLY, headers=headers)
    assert res.status_code == 403
    _nothing_recorded(app)


def test_signature_with_another_token_is_403(app, client, admin, sms_surveys, twilio_api, webhook):
    sent_invitation(app, client, admin)
    res = webhook("/twilio/sms", REPLY, signature=sign(f"{PUBLIC}/twilio/sms", REPLY, "other-token"))
    assert res.status_code == 403
    _nothing_recorded(app)


def test_tampered_form_is_403(app, client, admin, sms_surveys, twilio_api):
    sent_invitation(app, client, admin)
    signature = sign(f"{PUBLIC}/twilio/sms", REPLY)
    res = client.post("/twilio/sms", data=REPLY | {"Body": "1"}, headers={"X-Twilio-Signature": signature})
    assert res.status_code == 403
    _nothing_recorded(app)


def test_behind_a_tls_proxy_the_public_url_is_what_counts(app, client, admin, sms_surveys, twilio_api):
    sent_invitation(app, client, admin)
    # The request reaches us as http://localhost/twilio/sms; Twilio signed the public https URL.
    assert client.post("/twilio/sms", data=REPLY, headers={
        "X-Twilio-Signature": sign("http://localhost/twilio/sms", REPLY)}).status_code == 403
    _nothing_recorded(app)
    res = client.post("/twilio/sms", data=REPLY, headers={
        "X-Twilio-Signature": sign(f"{PUBLIC}/twilio/sms", REPLY)})
    assert res.status_code == 200


def test_public_url_with_a_port_is_signed_as_given(app, client, twilio_api):
    app.config["PUBLIC_BASE_URL"] = "https://surveys.example.com:8443"
    form = {"MessageSid": "SM" + "b" * 32, "From": "+15550001111", "Body": "hi"}
    good = sign("https://surveys.example.com:8443/twilio/sms", form)
    assert client.post("/twilio/sms", data=form, headers={"X-Twilio-Signature": good}).status_code == 200


def test_query_string_is_part_of_the_signed_url(app, client, admin, sms_surveys, twilio_api, webhook):
    inv_id = sent_invitation(app, client, admin)
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    wrong = sign(f"{PUBLIC}/twilio/sms/status?invitation={inv_id + 1}", form)
    res = webhook("/twilio/sms/status", form, query=f"invitation={inv_id}", signature=wrong)
    assert res.status_code == 403
    assert webhook("/twilio/sms/status", form, query=f"invitation={inv_id}").status_code == 204


@pytest.mark.parametrize("path", ["/twilio/voice/invitation/1", "/twilio/voice/invitation/1/score",
                                  "/twilio/voice/invitation/1/anonymous", "/twilio/voice/invitation/1/reason",
                                  "/twilio/voice/transfer/pbx/call-1", "/twilio/voice/status?invitation=1",
                                  "/twilio/sms/status?invitation=1"])
def test_every_twilio_endpoint_checks_the_signature(client, twilio_api, path):
    assert client.post(path, data={"CallSid": "CA1"}).status_code == 403


def test_without_an_auth_token_every_webhook_is_refused(app, client):
    form = {"MessageSid": "SM" + "c" * 32, "From": "+15550001111", "Body": "5"}
    res = client.post("/twilio/sms", data=form,
                      headers={"X-Twilio-Signature": sign(f"{PUBLIC}/twilio/sms", form)})
    assert res.status_code == 403


def test_a_repeated_parameter_is_signed_with_all_its_values(app, client, twilio_api):
    # Twilio signs each value of a repeated parameter (MMS media, for one): all must count.
    form = MultiDict([("MessageSid", "SM" + "d" * 32), ("From", "+15550001111"), ("Body", "hi"),
                      ("MediaUrl", "https://media.example/1"), ("MediaUrl", "https://media.example/2")])
    good = sign(f"{PUBLIC}/twilio/sms", form)
    assert good != sign(f"{PUBLIC}/twilio/sms", MultiDict(form.items()))  # the first value only
    assert client.post("/twilio/sms", data=form, headers={"X-Twilio-Signature": good}).status_code == 200
    one_value = sign(f"{PUBLIC}/twilio/sms", MultiDict(form.items()))
    assert client.post("/twilio/sms", data=form,
                       headers={"X-Twilio-Signature": one_value}).status_code == 403


# -- the URL as Twilio signs it: the request URI as sent, percent-encoding kept ------------------

ODD_ID = "call/1 x+é"  # a platform's own id: a slash, a space, a plus and a non-ASCII letter
ODD_PATH = "/twilio/voice/transfer/pbx/" + quote(ODD_ID, safe="")  # .../call%2F1%20x%2B%C3%A9
CALLER = {"CallSid": "CA" + "e" * 32, "From": "+8613800138000"}


def _transfer_untouched(app, inv_id: int) -> None:
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Conversation)) == 0
    assert stored_invitation(app, inv_id).status == "scheduled"


def test_an_encoded_transfer_url_is_taken_as_signed(app, client, admin, sms_surveys, twilio_api):
    inv_id = intake(client, admin, external_id=ODD_ID, locale="en")
    good = RequestValidator(AUTH_TOKEN).compute_signature(f"{PUBLIC}{ODD_PATH}", CALLER)
    res = client.post(ODD_PATH, data=CALLER, headers={"X-Twilio-Signature": good})
    assert res.status_code == 200 and res.content_type.startswith("text/xml")
    gather = ElementTree.fromstring(res.data).find("Gather")
    assert f"/twilio/voice/invitation/{inv_id}/score" in gather.get("action")


def test_a_signature_over_the_decoded_url_is_refused(app, client, admin, sms_surveys, twilio_api):
    inv_id = intake(client, admin, external_id=ODD_ID, locale="en")
    decoded = sign(f"{PUBLIC}/twilio/voice/transfer/pbx/{ODD_ID}", CALLER)
    assert client.post(ODD_PATH, data=CALLER, headers={"X-Twilio-Signature": decoded}).status_code == 403
    _transfer_untouched(app, inv_id)


def test_a_signature_with_the_default_port_is_taken(app, client, admin, sms_surveys, twilio_api):
    inv_id = intake(client, admin, external_id=ODD_ID, locale="en")
    with_port = sign(f"https://surveys.example.com:443{ODD_PATH}", CALLER)
    res = client.post(ODD_PATH, data=CALLER, headers={"X-Twilio-Signature": with_port})
    assert res.status_code == 200
    assert f"/invitation/{inv_id}/score" in ElementTree.fromstring(res.data).find("Gather").get("action")


def test_a_forged_transfer_is_403_and_writes_nothing(app, client, admin, sms_surveys, twilio_api):
    inv_id = intake(client, admin, external_id=ODD_ID, locale="en")
    for forged in (sign(f"{PUBLIC}{ODD_PATH}", CALLER, "other-token"),
                   sign(f"{PUBLIC}{ODD_PATH}", CALLER | {"From": "+15550001111"}),
                   sign(f"http://surveys.example.com{ODD_PATH}", CALLER)):
        assert client.post(ODD_PATH, data=CALLER, headers={"X-Twilio-Signature": forged}).status_code == 403
    _transfer_untouched(app, inv_id)


def test_an_encoded_query_is_signed_as_sent(app, client, admin, sms_surveys, twilio_api):
    inv_id = sent_invitation(app, client, admin)
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    query = f"invitation={inv_id}&tag=a%2Fb%20c"
    decoded = sign(f"{PUBLIC}/twilio/sms/status?invitation={inv_id}&tag=a/b c", form)
    path = f"/twilio/sms/status?{query}"
    assert client.post(path, data=form, headers={"X-Twilio-Signature": decoded}).status_code == 403
    good = sign(f"{PUBLIC}{path}", form)
    assert client.post(path, data=form, headers={"X-Twilio-Signature": good}).status_code == 204


@pytest.mark.parametrize("raw_uri", ["", "http://10.0.0.5:8000" + ODD_PATH])
def test_without_a_raw_uri_the_path_is_encoded_again(app, client, admin, sms_surveys, twilio_api, raw_uri):
    # A server that gives no raw URI (or an absolute one): the decoded path, percent-encoded again.
    odd = "call 1 é"
    path = "/twilio/voice/transfer/pbx/" + quote(odd, safe="")
    inv_id = intake(client, admin, external_id=odd, locale="en")
    res = client.post(path, data=CALLER, headers={"X-Twilio-Signature": sign(f"{PUBLIC}{path}", CALLER)},
                      environ_overrides={"RAW_URI": raw_uri, "REQUEST_URI": raw_uri})
    assert res.status_code == 200
    assert f"/invitation/{inv_id}/score" in ElementTree.fromstring(res.data).find("Gather").get("action")


def test_mounted_under_a_prefix_the_public_base_names_it(app, client, twilio_api):
    # SCRIPT_NAME /surveys: gunicorn's RAW_URI carries the prefix, which the public base already names.
    app.config["PUBLIC_BASE_URL"] = f"{PUBLIC}/surveys"
    form = {"MessageSid": "SM" + "f" * 32, "From": "+15550001111", "Body": "hi"}
    good = sign(f"{PUBLIC}/surveys/twilio/sms", form)
    res = client.post("/twilio/sms", data=form, headers={"X-Twilio-Signature": good},
                      base_url="http://localhost/surveys",
                      environ_overrides={"RAW_URI": "/surveys/twilio/sms"})
    assert res.status_code == 200
