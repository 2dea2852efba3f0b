"""/api/v1/surveys: admins list, read, create and patch survey definitions."""

from functools import wraps

from flask import g
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import ValidationError

from survey_service.auth import require
from survey_service.extensions import db
from survey_service.openapi import Blueprint
from survey_service.surveys import service
from survey_service.surveys.schemas import PATCHABLE, SurveyListSchema, SurveyPatchSchema, SurveySchema

blp = Blueprint("surveys", __name__, url_prefix="/api/v1/surveys",
                description="Survey definitions (admin).")


def _survey_first(view):
    """Find the path's survey before the body is read: an unknown key is a 404 whatever the body."""

    @wraps(view)
    def wrapper(*args, key, **kwargs):
        g.survey = _get_or_404(key)
        return view(*args, key=key, **kwargs)

    return wrapper


@blp.route("")
class Surveys(MethodView):
    @require("admin")
    @blp.response(200, SurveyListSchema)
    @blp.doc(security=[{"bearer": []}])
    def get(self):
        """All surveys, oldest first."""
        return {"items": [service.to_dict(s) for s in service.list_surveys()]}

    @require("admin")
    @blp.arguments(SurveySchema)
    @blp.response(201, SurveySchema)
    @blp.alt_response(409, description="A survey with this key exists.")
    @blp.doc(security=[{"bearer": []}])
    def post(self, data):
        """Create a survey; omitted fields take their defaults."""
        try:
            survey = service.create_survey(data)
        except service.SurveyExists:
            abort(409, message=f"A survey with key '{data['key']}' already exists.")
        except ValidationError as exc:
            abort(422, errors={"json": exc.messages})
        db.session.commit()
        return service.to_dict(survey)


@blp.route("/<key>")
class SurveyByKey(MethodView):
    @require("admin")
    @blp.response(200, SurveySchema)
    @blp.doc(security=[{"bearer": []}])
    def get(self, key):
        """One survey."""
        return service.to_dict(_get_or_404(key))

    @require("admin")
    @_survey_first
    @blp.arguments(SurveyPatchSchema(partial=PATCHABLE))
    @blp.response(200, SurveySchema)
    @blp.doc(security=[{"bearer": []}])
    def patch(self, changes, key):
        """Change the named fields; the result must still be a valid survey."""
        survey = g.survey
        try:
            service.patch_survey(survey, changes)
        except ValidationError as exc:
            db.session.rollback()
            abort(422, errors={"json": exc.messages})
        db.session.commit()
        return service.to_dict(survey)


def _get_or_404(key):
    survey = service.get_survey(key)
    if survey is None:
        abort(404, message=f"No survey with key '{key}'.")
    return survey
