"""My Hopsworks key: a user pastes, tests, replaces and deletes their own Hopsworks API key.

Thin adapter over :mod:`hopsworks_ui_plugin.core.keys`: every form carries a CSRF token, the key
field is a password field that is never filled back in, and refusals come back to this page.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, url_for
from flask_appbuilder import expose
from flask_wtf import FlaskForm
from wtforms import PasswordField, SubmitField

from hopsworks_ui_plugin import settings
from hopsworks_ui_plugin.core import keys as core
from hopsworks_ui_plugin.errors import BadInput, PluginError
from hopsworks_ui_plugin.views.base import HopsworksBaseView, login_required, request_username

EP = "HopsworksKeyView"


class KeyForm(FlaskForm):
    api_key = PasswordField("Hopsworks API key", render_kw={"autocomplete": "off", "spellcheck": "false"})
    submit = SubmitField("Test and save")


class KeyActionForm(FlaskForm):
    """Test or delete the stored key: a CSRF token and nothing else."""


class HopsworksKeyView(HopsworksBaseView):
    route_base = "/hopsworks/my-key"

    def error_response(self, err: PluginError) -> Any:
        """Refusals lead back to this page."""
        if err.back is None:
            err.back = url_for(f"{EP}.index")
        return super().error_response(err)

    @expose("/")
    @login_required
    def index(self) -> Any:
        return self.page(
            "hopsworks/my_key.html", title=core.PAGE_TITLE,
            status=core.status(request_username(), settings.conn_id()), form=KeyForm(), action_form=KeyActionForm(),
        )

    @expose("/save", methods=["POST"])
    @login_required
    def save(self) -> Any:
        form = KeyForm()
        if not form.validate_on_submit():
            raise BadInput("The form was not accepted (its CSRF token is missing or expired); reload the page and "
                           "try again. Nothing was saved.", title=core.PAGE_TITLE)
        _stored, message = core.register(request_username(), form.api_key.data)
        flash(message, "info")
        return redirect(url_for(f"{EP}.index"))

    @expose("/test", methods=["POST"])
    @login_required
    def test(self) -> Any:
        if not KeyActionForm().validate_on_submit():
            raise BadInput("The form was not accepted; reload the page and try again.", title=core.PAGE_TITLE)
        works, message = core.test_stored(request_username())
        flash(message, "info" if works else "warning")
        return redirect(url_for(f"{EP}.index"))

    @expose("/delete", methods=["POST"])
    @login_required
    def delete(self) -> Any:
        if not KeyActionForm().validate_on_submit():
            raise BadInput("The form was not accepted; reload the page and try again. Nothing was deleted.",
                           title=core.PAGE_TITLE)
        flash(core.delete(request_username()), "info")
        return redirect(url_for(f"{EP}.index"))
