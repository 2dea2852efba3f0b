"""/api/v1/customers/{customer_id}: erase a customer's personal data (admin)."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from survey_service.auth import require
from survey_service.customers.erasure import TABLES, erase_customer
from survey_service.extensions import db
from survey_service.openapi import Blueprint

blp = Blueprint("customers", __name__, url_prefix="/api/v1/customers",
                description="Erasure of a customer's personal data (admin).")


class ErasureSchema(Schema):
    customer_id = fields.String()
    changed = fields.Dict(keys=fields.String(metadata={"enum": list(TABLES)}), values=fields.Integer(),
                          metadata={"description": "Rows changed per table; all 0 when nothing was left."})


@blp.route("/<path:customer_id>")
class CustomerById(MethodView):
    @require("admin")
    @blp.response(200, ErasureSchema)
    @blp.doc(security=[{"bearer": []}])
    def delete(self, customer_id):
        """Erase the customer's personal data everywhere; scores are kept (idempotent)."""
        changed = erase_customer(customer_id)
        db.session.commit()
        return {"customer_id": customer_id, "changed": changed}
