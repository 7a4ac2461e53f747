from django import forms

from referloop.core.errors import DomainError
from referloop.partners.models import MaterialKind


class MaterialForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name", help_text="e.g. Spring rack card")
    kind = forms.ChoiceField(choices=MaterialKind.choices, label="Type")
    on_hand = forms.IntegerField(
        min_value=0, max_value=1_000_000, label="On hand", help_text="How many are on the shelf"
    )
    is_welcome_packet = forms.BooleanField(
        required=False,
        label="This is the welcome packet (sending it clears a 'send the welcome packet' item)",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="In use")

    def clean_name(self):
        name = self.cleaned_data["name"]
        if "\x00" in name:
            raise forms.ValidationError("Contains a character that is not allowed.")
        return name

    @staticmethod
    def initial_for(material) -> dict:
        return {name: getattr(material, name) for name in MaterialForm.base_fields}


def apply_domain_error(form: forms.Form, error: DomainError) -> None:
    """Puts a service's refusal next to the field it names (or at the top of the form)."""
    form.add_error(error.field if error.field in form.fields else None, error.message)
