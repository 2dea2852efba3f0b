"""The email's From name is the brand the service is configured with (SURVEY_BRAND_NAME)."""

from email.utils import parseaddr

from survey_service.delivery.base import OutgoingMessage
from survey_service.delivery.registry import channel_for


def _message() -> OutgoingMessage:
    return OutgoingMessage(invitation_id=1, channel="email", to="li.wei@example.com", locale="zh-Hans",
                           text="您好", subject="请评价")


def test_the_from_name_is_the_brand(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "BRAND_NAME", "云途客服")
    with app.app_context():
        app.extensions.pop("survey_channels", None)
        mail = channel_for("email").build(_message())
        app.extensions.pop("survey_channels", None)
    assert parseaddr(str(mail["From"])) == ("云途客服", app.config["MAIL_FROM"])
