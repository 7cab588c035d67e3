"""Locale selection: Simplified Chinese unless the user chose English."""

from flask import Flask, current_app, has_request_context, request, session

from crm import ROOT
from crm.extensions import babel


def select_locale() -> str:
    if not has_request_context():  # CLI commands and background jobs speak the default
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = current_app.config["LANGUAGES"]
    if (chosen := session.get("locale")) in languages:
        return chosen
    # Offices work in Chinese; English is a choice, never a browser accident.
    if request.args.get("lang") in languages:
        return request.args["lang"]
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(ROOT / "translations"),
    )
