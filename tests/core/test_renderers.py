"""The form renderer builds inputs and selects in Python: to the very HTML of Django's templates."""

from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe

from referloop.core.renderers import FormRenderer


class EveryWidget(forms.Form):
    text = forms.CharField(
        max_length=20, help_text="Help", widget=forms.TextInput(attrs={"data-x": 'a "b" <c>'})
    )
    number = forms.IntegerField(min_value=0)
    email = forms.EmailField(required=False)
    url = forms.URLField(required=False)
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), required=False)
    secret = forms.CharField(widget=forms.PasswordInput(render_value=True), required=False)
    hidden = forms.CharField(widget=forms.HiddenInput, required=False)
    checked = forms.BooleanField(required=False)
    unchecked = forms.BooleanField(required=False)
    flags = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"autofocus": True, "readonly": False, "title": None}),
    )
    choice = forms.ChoiceField(
        choices=[("", "—"), ("a&b", "A & B"), (3, mark_safe("<b>three</b>"))], required=False
    )
    grouped = forms.ChoiceField(
        choices=[("Fruit", [("apple", "Apple"), ("pear", "Pear")]), ("other", "Other")],
        required=False,
    )
    many = forms.MultipleChoiceField(choices=[("x", "X"), ("y", "Y"), ("z", "Z")], required=False)


DATA = {
    "text": 'He said "<hi>" & left',
    "number": "12",
    "email": "a@example.org",
    "url": "https://example.org/?a=1&b=2",
    "day": "2026-11-24",
    "secret": "s3cret<",
    "hidden": "42",
    "checked": "on",
    "choice": "a&b",
    "grouped": "pear",
    "many": ["x", "z"],
}


def _rendered(form_class, renderer, **kwargs) -> dict[str, str]:
    form = form_class(renderer=renderer, **kwargs)
    form.is_valid()
    return {name: str(form[name]) for name in form.fields}


def test_every_input_and_select_renders_as_djangos_templates_do():
    for kwargs in ({}, {"data": DATA}, {"data": {"number": "-1", "text": "x" * 30}}):
        ours = _rendered(EveryWidget, FormRenderer(), **kwargs)
        django = _rendered(EveryWidget, DjangoTemplates(), **kwargs)
        assert ours == django


def test_the_project_uses_it():
    assert isinstance(EveryWidget().renderer, FormRenderer)
