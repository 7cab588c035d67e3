"""Error pages for people and JSON errors for the API."""

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from crm.api import errors as api_errors
from crm.extensions import db


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def _is_api() -> bool:
    # The API answers every error in its own shape (crm.api.errors), unknown paths included.
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        message = _("The form expired or was sent from elsewhere. Reload the page and try again.")
        if _wants_json():
            return jsonify(error={"code": "csrf", "message": message, "fields": {}}), 400
        return render_template("errors/error.html", code=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if _is_api():
            return api_errors.from_http(error)
        code = error.code or 500
        messages = {
            400: _("The request could not be understood."),
            403: _("You do not have permission to open this page."),
            404: _("The page or record was not found."),
            405: _("This action is not allowed here."),
            413: _("The upload is too large."),
            429: _("Too many requests: wait a moment and try again."),
        }
        message = messages.get(code, error.description or "")
        if _wants_json():
            return jsonify(error={"code": code, "message": message, "fields": {}}), code
        return render_template("errors/error.html", code=code, message=message), code

    @app.errorhandler(500)
    def server_error(error):
        if _is_api():
            return api_errors.server_error()
        db.session.rollback()
        message = _("Something went wrong on our side. The error has been logged.")
        if _wants_json():
            return jsonify(error={"code": 500, "message": message, "fields": {}}), 500
        return render_template("errors/error.html", code=500, message=message), 500
