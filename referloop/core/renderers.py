"""The form renderer: Django's, except for the widgets forms hold most of.

Through templates an <input> costs about 0.2 ms and a <select> about 0.13 ms per option, so the
directory's search form alone (four lists, some sixty options) took 13 ms of every search. These
widgets are built here instead, to the very HTML of Django's templates (`input.html`,
`select.html`, `select_option.html`, `attrs.html` in django/forms/templates/django/forms/widgets);
every other template is rendered as Django renders it.
"""

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

WIDGETS = "django/forms/widgets/"
# The widget templates that are nothing but an include of input.html.
INPUTS = {
    f"{WIDGETS}{name}.html"
    for name in [
        "input",
        "checkbox",
        "color",
        "date",
        "datetime",
        "email",
        "hidden",
        "number",
        "password",
        "search",
        "tel",
        "text",
        "time",
        "url",
    ]
}
SELECT = f"{WIDGETS}select.html"


def _attrs(attrs: dict) -> str:
    # attrs.html: True is a bare attribute, False none, anything else name="value".
    return "".join(
        f" {conditional_escape(name)}"
        if value is True
        else f' {conditional_escape(name)}="{conditional_escape(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def _input(widget: dict) -> str:
    value = widget["value"]
    shown = f' value="{conditional_escape(value)}"' if value is not None else ""
    return (
        f'<input type="{conditional_escape(widget["type"])}" '
        f'name="{conditional_escape(widget["name"])}"{shown}{_attrs(widget["attrs"])}>'
    )


def _select(widget: dict) -> str:
    html = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _ in widget["optgroups"]:
        if group_name:
            html.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
        html.extend(
            f'\n  <option value="{conditional_escape(option["value"])}"'
            f"{_attrs(option['attrs'])}>{conditional_escape(option['label'])}</option>\n"
            for option in options
        )
        if group_name:
            html.append("\n  </optgroup>")
    html.append("\n</select>")
    return "".join(html)


class FormRenderer(DjangoTemplates):
    def render(self, template_name, context, request=None):
        if template_name in INPUTS:
            return mark_safe(_input(context["widget"]))  # noqa: S308 (every part escaped above)
        if template_name == SELECT:
            return mark_safe(_select(context["widget"]))  # noqa: S308 (every part escaped above)
        return super().render(template_name, context, request=request)
