"""The holdout: its share of draws, and held-out invitations that state no reward anywhere."""

from __future__ import annotations

import pytest
from scipy.stats import binom
from sqlalchemy import select

from survey_service.delivery.models import OutboxMessage
from survey_service.extensions import db
from survey_service.invitations.models import Invitation
from survey_service.invitations.policy import draw
from tests.incentives.conftest import REWARD
from tests.twilio.conftest import deliver

DRAWS = 20_000


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_the_held_out_share_lies_within_its_binomial_interval(rate):
    """The planner's draw (invitations.policy) over 20,000 interactions, as intake keys them."""
    held = sum(draw(f"shop\x1forder-{n}", "csat-purchase", "holdout") < rate for n in range(DRAWS))
    low, high = binom.interval(0.999, DRAWS, rate)
    assert low <= held <= high


def test_the_draw_is_the_same_on_a_replay():
    assert [draw(f"shop:order-{n}", "csat-purchase", "holdout") for n in range(50)] == [
        draw(f"shop:order-{n}", "csat-purchase", "holdout") for n in range(50)]


def _message(app, inv_id: int) -> OutboxMessage:
    assert deliver(app, inv_id) == "sent"
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.invitation_id == inv_id))
        db.session.expunge(row)
        return row


def _scheduled(app, offer, *, holdout: bool, channel: str) -> tuple[str, int]:
    """An invitation back in `scheduled`, to be sent by the real send path."""
    token, inv_id = offer(holdout=holdout, channel=channel, locale="en")
    with app.app_context():
        row = db.session.get(Invitation, inv_id)
        row.status, row.sent_at, row.token_hash = "scheduled", None, None
        db.session.commit()
    return token, inv_id


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_held_out_invitations_state_no_reward_in_their_message(app, offer, channel):
    _, offered = _scheduled(app, offer, holdout=False, channel=channel)
    _, held = _scheduled(app, offer, holdout=True, channel=channel)
    shown = _message(app, offered)
    assert REWARD in shown.body_text and (shown.body_html is None or REWARD in shown.body_html)
    hidden = _message(app, held)
    assert REWARD not in hidden.body_text and REWARD not in (hidden.body_html or "")


def test_held_out_invitations_state_no_reward_on_the_page(client, offer):
    offered, _ = offer(locale="en")
    held, _ = offer(holdout=True, locale="en")
    assert REWARD in client.get(f"/s/{offered}").get_data(as_text=True)
    assert REWARD not in client.get(f"/s/{held}").get_data(as_text=True)
