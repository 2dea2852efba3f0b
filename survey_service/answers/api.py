"""POST /api/v1/answers: the token is the credential; one answer per invitation."""

from flask.views import MethodView
from flask_smorest import abort

from survey_service.answers import service
from survey_service.answers.limits import answer_limits
from survey_service.answers.schemas import AnswerInSchema, AnswerOutSchema
from survey_service.extensions import csrf, db
from survey_service.invitations.tokens import find_by_token
from survey_service.openapi import Blueprint

blp = Blueprint("answers", __name__, url_prefix="/api/v1/answers",
                description="Answers from chat widgets and apps (token-authenticated).")
csrf.exempt(blp)


@blp.route("")
class Answers(MethodView):
    decorators = answer_limits()

    @blp.arguments(AnswerInSchema)
    @blp.response(201, AnswerOutSchema)
    @blp.alt_response(404, description="Unknown token.")
    @blp.alt_response(409, description="Already answered.")
    @blp.alt_response(410, description="Expired.")
    @blp.alt_response(429, description="Too many answers from this token or address; see Retry-After.")
    def post(self, data):
        """Answer a survey with its token."""
        inv = find_by_token(data["token"])
        if inv is None:
            abort(404, message="Unknown survey token.")
        answer = service.Answer(score=data["score"], channel="web", reason=data.get("reason"),
                                anonymous=data.get("anonymous", False))
        try:
            recorded = service.record_answer(inv.id, answer)
        except service.AnswerError as exc:
            db.session.rollback()
            if exc.status == 422 and exc.field:
                abort(422, errors={"json": {exc.field: [exc.message]}}, message=exc.message)
            abort(exc.status, message=exc.message)
        body = service.response_body(recorded.response_id)
        db.session.commit()
        code = service.after_answer(recorded)
        if code is not None:
            body["incentive_code"] = code
        return body
