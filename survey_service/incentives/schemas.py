"""Shapes of the incentive endpoints: redemption and the funnel with its holdout lift."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from survey_service.validation import HalfOpenRange, Instant, Text


class RedeemInSchema(Schema):
    order_id = Text(required=True, validate=validate.Length(1, 64),
                    metadata={"description": "The shop's order the code is used on."})


class CodeStateSchema(Schema):
    code = fields.String(metadata={"description": "XXXXX-XXXXX, Crockford base32."})
    survey = fields.String()
    status = fields.String(metadata={"enum": ["valid", "redeemed", "expired"]})
    issued_at = fields.DateTime()
    expires_at = fields.DateTime(metadata={"description": "Redeemable before this instant."})
    redeemed_at = fields.DateTime(allow_none=True)
    order_id = fields.String(allow_none=True)


class StatsQuerySchema(HalfOpenRange):
    """GET /api/v1/incentives/stats query: an optional survey and half-open range of send times."""

    survey_key = Text(data_key="survey", validate=validate.Length(1, 64),
                      metadata={"description": "Only this survey's invitations."})
    start = Instant(data_key="from", metadata={"description": "Sent at or after; ISO 8601 with offset."})
    end = Instant(data_key="to", metadata={"description": "Sent before; ISO 8601 with offset."})



def _pct(description: str) -> fields.Float:
    return fields.Float(allow_none=True, metadata={"description": description})


class StatsSchema(Schema):
    offered = fields.Integer(metadata={"description": "Invitations sent with the offer."})
    held_out = fields.Integer(metadata={"description": "Invitations sent without it (the holdout)."})
    earned = fields.Integer(metadata={"description": "Codes issued."})
    redeemed = fields.Integer(metadata={"description": "Codes redeemed."})
    redemption_rate = _pct("redeemed / earned, percent; null when none was earned.")
    responded_offer = fields.Integer(metadata={"description": "Offered invitations answered."})
    responded_holdout = fields.Integer(metadata={"description": "Held-out invitations answered."})
    response_rate_offer = _pct("responded_offer / offered, percent.")
    response_rate_holdout = _pct("responded_holdout / held_out, percent.")
    lift = _pct("response_rate_offer - response_rate_holdout, percentage points.")
    lift_ci95 = fields.List(fields.Float(), allow_none=True, metadata={
        "description": "95% interval of the lift, percentage points (Newcombe's hybrid score method)."})
