"""Every /twilio/ webhook needs Twilio's signature for the public URL; otherwise 403, nothing done."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from survey_service.answers.models import InboundMessage, Response
from survey_service.extensions import db
from tests.twilio.conftest import PUBLIC, sent_invitation, sign

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
