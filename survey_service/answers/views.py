"""The web survey at /s/<token>: question, scale, reason and anonymity box; single use."""

from __future__ import annotations

from math import ceil

from flask import abort, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from survey_service.answers import rules, service
from survey_service.answers.limits import answer_limits
from survey_service.answers.schemas import SurveyPageForm
from survey_service.db import utcnow
from survey_service.extensions import db
from survey_service.i18n import gettext, normalize_locale, scale_labels, survey_text
from survey_service.incentives.service import earned_code
from survey_service.incentives.texts import reward_text
from survey_service.invitations.tokens import find_by_token
from survey_service.openapi import Blueprint, form_body, page

bp = Blueprint("web_survey", __name__, url_prefix="/s",
               description="The web survey, for people: the token in the URL is the credential.")
_CLOSED = {"404": page("No survey has this token."), "409": page("Already answered."),
           "410": page("Expired."), "429": page("Too many attempts; try again later.")}
# A numbered scale longer than this wraps into two even rows on a phone (NPS 0-10: 6 and 5).
_ONE_ROW_POINTS = 7
_LANG = {"in": "query", "name": "lang", "description": "Show the page in this language.",
         "schema": {"type": "string", "enum": ["en", "zh-Hans", "zh-Hant"]}}


class AnswerForm(FlaskForm):
    score = RadioField(coerce=int, validators=[DataRequired()])
    reason = TextAreaField(validators=[Optional(), Length(max=service.MAX_REASON)])
    anonymous = BooleanField()


def _page(inv, locale: str, form: AnswerForm | None = None, status: int = 200):
    survey = inv.survey
    labels = scale_labels(survey.texts, locale, survey.scale_min, survey.scale_max)
    form = form or AnswerForm()
    form.score.choices = [(p, label) for p, label in labels]
    if form.score.data is None and not form.is_submitted():
        preselect = request.args.get("score", type=int)
        if preselect is not None and rules.InScale.py(preselect, survey.scale_min, survey.scale_max):
            form.score.data = preselect
    incentive = survey.incentive if inv.incentive_offered else None
    words_only = all(label != str(p) for p, label in labels)
    return render_template(
        "web/survey.html", form=form, locale=locale, survey=survey, labels=labels,
        question=survey_text(survey.texts, "question", locale)
        or gettext("default_question", locale),
        reason_prompt=survey_text(survey.texts, "reason_prompt", locale)
        or gettext("default_reason_prompt", locale),
        anonymity=survey.anonymity, incentive=incentive,
        incentive_reward=_reward(survey, incentive, locale),
        words_only=words_only, yes_no=survey.scale_min == 0 and survey.scale_max == 1,
        anchors=[(p, label) for p, label in labels if label != str(p)],
        per_row=len(labels) if len(labels) <= _ONE_ROW_POINTS else ceil(len(labels) / 2)), status


def _reward(survey, incentive, locale: str) -> str | None:
    """The incentive's words in the page's language, never mixed with another (incentives.texts)."""
    return reward_text(survey.texts, incentive, locale) if incentive else None


def _closed(inv, locale: str, error: service.AnswerError):
    """The page for a survey that cannot be answered: already answered (409) or expired (410)."""
    if isinstance(error, service.NotOpen):
        abort(404)
    kind = "answered" if isinstance(error, service.AlreadyAnswered) else "expired"
    return render_template("web/closed.html", locale=locale, kind=kind), error.status


def _open(token: str):
    inv = find_by_token(token)
    if inv is None:
        abort(404)
    return inv, normalize_locale(request.args.get("lang") or inv.locale)


_show_per_token, _show_per_address = answer_limits(methods=("GET", "HEAD"))


@bp.get("/<token>")
@bp.doc(parameters=[_LANG, {"in": "query", "name": "score", "schema": {"type": "integer"},
                            "description": "A point to preselect (from the email's buttons)."}],
        responses={"200": page("The survey."), **_CLOSED})
@_show_per_token
@_show_per_address
def show(token):
    """Show the survey; ?score=N preselects a point and records nothing (mail scanners)."""
    inv, locale = _open(token)
    error = service.open_state_error(inv, utcnow())
    if error:
        return _closed(inv, locale, error)
    return _page(inv, locale)


_per_token, _per_address = answer_limits()


@bp.post("/<token>")
@bp.doc(parameters=[_LANG], requestBody=form_body(SurveyPageForm),
        responses={"303": {"description": "Recorded: see the thank-you page (`/s/{token}/thanks`), "
                                          "so that a reload never sends the answer again.",
                           "headers": {"Location": {"schema": {"type": "string"}}}},
                   "400": page("The form's CSRF token is missing or wrong."),
                   "422": page("The survey again, naming what to correct."), **_CLOSED})
@_per_token
@_per_address
def submit(token):
    """Record the answer once, then redirect to the thank-you page; a second one: 'already answered'."""
    inv, locale = _open(token)
    error = service.open_state_error(inv, utcnow())
    if error:
        return _closed(inv, locale, error)
    form = AnswerForm()
    form.score.choices = [(p, str(p)) for p in range(inv.survey.scale_min,
                                                     inv.survey.scale_max + 1)]
    if not form.validate():
        return _page(inv, locale, form, status=422)
    answer = service.Answer(score=form.score.data, channel="web", reason=form.reason.data,
                            anonymous=bool(form.anonymous.data))
    try:
        recorded = service.record_answer(inv.id, answer)
    except service.AnswerError as exc:
        db.session.rollback()
        if exc.status == 422:
            getattr(form, exc.field or "score").errors = [exc.message]
            return _page(inv, locale, form, status=422)
        return _closed(inv, locale, exc)
    db.session.commit()
    service.after_answer(recorded)
    return redirect(url_for(".thanks", token=token, lang=request.args.get("lang")), code=303)


@bp.get("/<token>/thanks")
@bp.doc(parameters=[_LANG],
        responses={"200": page("Thank you, with the reward code when the answer earned one."),
                   "303": {"description": "Not answered yet: back to the survey.",
                           "headers": {"Location": {"schema": {"type": "string"}}}},
                   **_CLOSED})
@_show_per_token
@_show_per_address
def thanks(token):
    """The page after an answer (POST/redirect/GET): a reload shows it again and records nothing."""
    inv, locale = _open(token)
    error = service.open_state_error(inv, utcnow())
    if error is None:
        return redirect(url_for(".show", token=token, lang=request.args.get("lang")), code=303)
    if not isinstance(error, service.AlreadyAnswered):
        return _closed(inv, locale, error)
    survey = inv.survey
    incentive = survey.incentive if inv.incentive_offered else None
    return render_template("web/thanks.html", locale=locale, survey=survey,
                           incentive_code=earned_code(inv.id),
                           incentive_reward=_reward(survey, incentive, locale))

