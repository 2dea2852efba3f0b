from tests.conftest import interaction


def test_call_with_phone_gets_sms_invitation(client, admin, seeded):
    res = client.post("/api/v1/interactions", json=interaction(), headers=admin)
    assert res.status_code == 201, res.json
    [inv] = res.json["invitations"]
    assert inv["survey"] == "csat-call"
    assert inv["channel"] == "sms"
    assert inv["status"] == "scheduled"
