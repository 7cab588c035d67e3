from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange


class CalendarImportForm(FlaskForm):
    file = FileField(
        _l("CSV file of one year"),
        validators=[FileRequired(_l("Choose a file to import."))],
        description=_l("Columns date,type,name; UTF-8 or GBK, as Excel saves it."),
    )


class DeleteYearForm(FlaskForm):
    year = IntegerField(validators=[InputRequired(), NumberRange(1, 9999)])
