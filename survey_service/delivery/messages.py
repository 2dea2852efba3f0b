"""Compose an invitation's message for its channel, in the respondent's language."""

from __future__ import annotations

from flask import current_app, render_template

from survey_service.delivery.base import OutgoingMessage
from survey_service.i18n import brand_name, gettext, normalize_locale, scale_labels, survey_text
from survey_service.incentives.texts import reward_text
from survey_service.invitations.service import Claim
from survey_service.invitations.unsubscribe import unsubscribe_url


def survey_url(token: str, score: int | None = None) -> str:
    """The public web survey link; `score` preselects a point (and records nothing)."""
    base = f"{current_app.config['PUBLIC_BASE_URL']}/s/{token}"
    return base if score is None else f"{base}?score={score}"


def context(inv: Claim) -> dict:
    """Everything the invitation templates of every channel use; a reminder's adds its opening line."""
    survey, token = inv.survey, inv.token
    locale = normalize_locale(inv.locale)
    points = [{"value": p, "label": label, "url": survey_url(token, p)}
              for p, label in scale_labels(survey.texts, locale, survey.scale_min,
                                           survey.scale_max)]
    incentive = survey.incentive if inv.incentive_offered else None
    return {
        "locale": locale,
        "survey": survey,
        "question": survey_text(survey.texts, "question", locale) or gettext("default_question",
                                                                             locale),
        "intro": survey_text(survey.texts, "intro", locale),
        "points": points,
        "url": survey_url(token),
        "anonymous_allowed": survey.anonymity != "never",
        "anonymous_always": survey.anonymity == "always",
        "incentive": incentive,
        "reward": reward_text(survey.texts, incentive, locale) if incentive else None,
        "agent_name": inv.agent_name,
        "brand": brand_name(locale),
        "unsubscribe_url": unsubscribe_url(inv.id, inv.channel),
        "reminder": inv.reminder,
        "reminder_line": gettext("reminder_line", locale) if inv.reminder else None,
    }


def compose(inv: Claim) -> OutgoingMessage:
    """The message for a claimed invitation's channel (email: subject, text and HTML)."""
    ctx = context(inv)
    base = current_app.config["PUBLIC_BASE_URL"]
    if inv.channel == "email":
        return OutgoingMessage(
            invitation_id=inv.id, channel="email", to=inv.address, locale=ctx["locale"],
            subject=gettext("email_subject_reminder" if inv.reminder else "email_subject",
                            ctx["locale"], brand=ctx["brand"]),
            sender_name=ctx["brand"],
            text=render_template("email/invitation.txt", **ctx),
            html=render_template("email/invitation.html", **ctx),
            headers={"Auto-Submitted": "auto-generated",
                     # RFC 8058: mail providers offer their own button, which POSTs to the link.
                     "List-Unsubscribe": f"<{ctx['unsubscribe_url']}>",
                     "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    if inv.channel == "sms":
        return OutgoingMessage(
            invitation_id=inv.id, channel="sms", to=inv.address, locale=ctx["locale"],
            text=render_template("sms/reminder.txt" if inv.reminder else "sms/invitation.txt",
                                 **ctx).strip(),
            # A reminder's receipts are not tracked: they must not move the invitation's status.
            status_callback_url=None if inv.reminder else f"{base}/twilio/sms/status?invitation={inv.id}")
    if inv.channel == "ivr":
        return OutgoingMessage(
            invitation_id=inv.id, channel="ivr", to=inv.address, locale=ctx["locale"],
            text=ctx["question"],
            status_callback_url=f"{base}/twilio/voice/status?invitation={inv.id}",
            voice_url=f"{base}/twilio/voice/invitation/{inv.id}")
    raise ValueError(f"no message layout for channel {inv.channel!r}")
