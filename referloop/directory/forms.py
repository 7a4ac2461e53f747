"""Directory forms: the search (a GET form, shared by the staff and the public directory), the
capacity update on a service page, and a listing's edit and new-listing pages.

Every error names the field it is about, so it reads right both next to the field and in a list
at the top of the page. NUL bytes are refused by every text field (Django's CharField does that).
"""

from django import forms

from referloop.directory.models import CapacityUnit, Status
from referloop.directory.postal import US_ZIP
from referloop.directory.search import (
    DEFAULT_PER_PAGE,
    DEFAULT_WITHIN_MILES,
    GENDER_CHOICES,
    GENDERS,
    LANGUAGE_NAMES,
    MAX_PAGE,
    MAX_WITHIN_MILES,
    DirectoryQuery,
)
from referloop.directory.selectors import location_shared
from referloop.directory.services import (
    COUNT_LIMIT,
    LISTING_FIELDS,
    LISTING_VOCABULARIES,
    ListingPlace,
)
from referloop.directory.vocabulary import NEEDS, PAYMENT, POPULATIONS, VOCABULARIES


def _vocabulary_choices(name: str, blank: str) -> list[tuple[str, str]]:
    return [("", blank), *VOCABULARIES[name][1]]


def _whole_number(label: str, low: int, high: int) -> dict[str, str]:
    message = f"{label}: enter a whole number from {low} to {high}."
    return {"invalid": message, "min_value": message, "max_value": message}


def _number(label: str, low: float, high: float) -> dict[str, str]:
    message = f"{label}: enter a number from {low:g} to {high:g}."
    return {"invalid": message, "min_value": message, "max_value": message}


def _age_field(label: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        min_value=0,
        max_value=120,
        error_messages=_whole_number(label, 0, 120),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


LANGUAGE_CHOICES = [
    ("", "Any language"),
    *sorted(LANGUAGE_NAMES.items(), key=lambda item: (item[0] != "en", item[1])),
]


class DirectorySearchForm(forms.Form):
    """Search words, a need, the person's eligibility, a place and "has room now".

    Bound to request.GET; an empty form is valid and lists everything. `to_query()` gives the
    DirectoryQuery for `directory_search`.
    """

    q = forms.CharField(
        label="Search words",
        required=False,
        max_length=200,
        help_text="e.g. detox, sober living, legal aid",
        error_messages={"max_length": "Search words: at most %(limit_value)d characters."},
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    need = forms.ChoiceField(
        label="Need",
        required=False,
        choices=_vocabulary_choices(NEEDS, "Any need"),
        error_messages={"invalid_choice": "Need: choose one from the list."},
    )
    age = _age_field("Age")
    gender = forms.ChoiceField(
        label="Gender",
        required=False,
        choices=[("", "Not given"), *GENDER_CHOICES],
        help_text="Only used for programs that serve one gender.",
        error_messages={"invalid_choice": "Gender: choose one from the list."},
    )
    population = forms.ChoiceField(
        label="Population",
        required=False,
        choices=_vocabulary_choices(POPULATIONS, "Any"),
        error_messages={"invalid_choice": "Population: choose one from the list."},
    )
    insurance = forms.ChoiceField(
        label="Insurance or payment",
        required=False,
        choices=_vocabulary_choices(PAYMENT, "Any"),
        error_messages={"invalid_choice": "Insurance or payment: choose one from the list."},
    )
    court_ordered = forms.BooleanField(label="Court-ordered", required=False)
    language = forms.ChoiceField(
        label="Language",
        required=False,
        choices=LANGUAGE_CHOICES,
        error_messages={"invalid_choice": "Language: choose one from the list."},
    )
    postal_code = forms.CharField(
        label="Near ZIP code",
        required=False,
        max_length=10,
        error_messages={"max_length": "ZIP code: 5 digits, e.g. 62701."},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "postal-code", "size": 10}
        ),
    )
    within_miles = forms.IntegerField(
        label="Within (miles)",
        required=False,
        min_value=1,
        max_value=MAX_WITHIN_MILES,
        help_text=f"Default {DEFAULT_WITHIN_MILES} miles when a ZIP code is given.",
        error_messages=_whole_number("Within (miles)", 1, MAX_WITHIN_MILES),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    has_capacity = forms.BooleanField(label="Has a bed or slot free now", required=False)
    include_inactive = forms.BooleanField(
        label="Also closed and inactive listings", required=False
    )  # staff only: the public directory lists only what is open
    # Set by "use my location" (or a link); hidden from the form itself.
    lat = forms.FloatField(
        label="Latitude",
        required=False,
        min_value=-90,
        max_value=90,
        error_messages=_number("Latitude", -90, 90),
        widget=forms.HiddenInput,
    )
    lon = forms.FloatField(
        label="Longitude",
        required=False,
        min_value=-180,
        max_value=180,
        error_messages=_number("Longitude", -180, 180),
        widget=forms.HiddenInput,
    )
    page = forms.IntegerField(
        label="Page",
        required=False,
        min_value=1,
        max_value=MAX_PAGE,
        error_messages=_whole_number("Page", 1, MAX_PAGE),
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, public: bool = False, per_page: int = DEFAULT_PER_PAGE, **kwargs):
        self.per_page = per_page
        super().__init__(*args, **kwargs)
        if public:
            del self.fields["include_inactive"]

    def __iter__(self):
        # The pager's links carry `page`; the form never re-submits it, so changing a filter
        # starts again at page 1 (the field still validates the page asked for).
        return (field for field in super().__iter__() if field.name != "page")

    def clean_postal_code(self) -> str:
        value = self.cleaned_data["postal_code"].strip()
        if value and not US_ZIP.match(value):
            raise forms.ValidationError(
                "ZIP code: 5 digits (or ZIP+4), e.g. 62701.", code="invalid"
            )
        return value[:5]

    def clean(self):
        cleaned = super().clean()
        lat, lon = cleaned.get("lat"), cleaned.get("lon")
        if (lat is None) != (lon is None) and not {"lat", "lon"} & set(self.errors):
            self.add_error("lat", "Latitude and longitude: give both, or neither.")
        if cleaned.get("postal_code") and lat is not None:
            self.add_error(
                "postal_code", "ZIP code: search near a ZIP code or near your location, not both."
            )
        if "page" in self.errors:  # no field shows the page: its error is the form's
            self.add_error(None, self.errors.pop("page"))
        return cleaned

    def to_query(self) -> DirectoryQuery:
        """The search this form describes (call after is_valid())."""
        data = self.cleaned_data
        return DirectoryQuery(
            text=data.get("q") or "",
            need=data.get("need") or "",
            population=data.get("population") or "",
            insurance=data.get("insurance") or "",
            age=data.get("age"),
            gender=data.get("gender") or None,
            court_ordered=bool(data.get("court_ordered")),
            language=data.get("language") or "",
            near_lat=data.get("lat"),
            near_lon=data.get("lon"),
            postal_code=data.get("postal_code") or "",
            within_miles=data.get("within_miles"),
            has_capacity=bool(data.get("has_capacity")),
            include_inactive=bool(data.get("include_inactive")),
            page=data.get("page") or 1,
            per_page=self.per_page,
        )


class CapacityForm(forms.Form):
    """The two-second capacity update: unit, how many free, of how many, waitlist open.

    `cleaned_data` is exactly the keyword arguments of `services.capacity_update` (with the
    service and actor added by the caller), which also enforces the rules again.
    """

    unit = forms.ChoiceField(
        label="Unit",
        choices=CapacityUnit.choices,
        error_messages={"invalid_choice": "Unit: choose beds, slots or appointments."},
    )
    available = forms.IntegerField(
        label="Available now",
        min_value=0,
        max_value=COUNT_LIMIT,
        error_messages={
            **_whole_number("Available now", 0, COUNT_LIMIT),
            "required": "Available now: enter how many are free (0 if none).",
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    maximum = forms.IntegerField(
        label="Of (maximum)",
        required=False,
        min_value=0,
        max_value=COUNT_LIMIT,
        error_messages=_whole_number("Of (maximum)", 0, COUNT_LIMIT),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    waitlist = forms.BooleanField(label="Waitlist open", required=False)

    @classmethod
    def for_service(cls, service, **kwargs) -> "CapacityForm":
        """An unbound form starting from the service's first unit (capacities prefetched); the
        kinds a feed names ("Men's beds") are the feed's to count."""
        capacity = next((c for c in service.capacities.all() if not c.name), None)
        initial = (
            {
                "unit": capacity.unit,
                "available": capacity.available,
                "maximum": capacity.maximum,
                "waitlist": capacity.waitlist,
            }
            if capacity is not None
            else {"unit": CapacityUnit.BEDS}
        )
        return cls(initial=initial, **kwargs)

    def clean(self):
        cleaned = super().clean()
        available, maximum = cleaned.get("available"), cleaned.get("maximum")
        if available is not None and maximum is not None and available > maximum:
            self.add_error(
                "available",
                f"Available now: {available} is more than the maximum ({maximum}).",
            )
        return cleaned


COURT_ORDERED_CHOICES = [("", "Not stated"), ("yes", "Accepted"), ("no", "Not accepted")]


class ListingForm(forms.Form):
    """What the agency that runs a listing keeps up to date (services.listing_update).

    Built with `for_service` so the languages the listing already has are offered even when
    they are not in the usual list. A listing at several locations has no address fields: its
    places come from the directory's import."""

    PLACE = ("address_1", "address_2", "city", "state_province", "postal_code")

    name = forms.CharField(label="Name", max_length=300)
    alternate_name = forms.CharField(label="Other name", max_length=300, required=False)
    status = forms.ChoiceField(
        label="Status",
        choices=Status.choices,
        help_text="Only active listings show in searches unless people ask for the others.",
    )
    alert = forms.CharField(
        label="Notice",
        required=False,
        max_length=2000,
        help_text="Shown above everything else, e.g. “Closed for intake until March 10”.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    description = forms.CharField(
        label="About", required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 5})
    )
    needs = forms.MultipleChoiceField(
        label="Needs it meets",
        required=False,
        choices=VOCABULARIES[NEEDS][1],
        widget=forms.CheckboxSelectMultiple,
    )
    populations = forms.MultipleChoiceField(
        label="Populations it serves",
        required=False,
        choices=VOCABULARIES[POPULATIONS][1],
        widget=forms.CheckboxSelectMultiple,
    )
    payment = forms.MultipleChoiceField(
        label="Insurance and payment it takes",
        required=False,
        choices=VOCABULARIES[PAYMENT][1],
        widget=forms.CheckboxSelectMultiple,
    )
    minimum_age = _age_field("Minimum age")
    maximum_age = _age_field("Maximum age")
    genders_served = forms.MultipleChoiceField(
        label="Gender-specific program for",
        required=False,
        choices=GENDER_CHOICES,
        help_text="Leave all unticked when the program serves every gender.",
        widget=forms.CheckboxSelectMultiple,
    )
    court_ordered_accepted = forms.TypedChoiceField(
        label="Court-ordered clients",
        required=False,
        choices=COURT_ORDERED_CHOICES,
        coerce=lambda value: {"yes": True, "no": False}.get(value),
        empty_value=None,
    )
    eligibility_description = forms.CharField(
        label="Eligibility in your words",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    fees_description = forms.CharField(
        label="Fees", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
    languages = forms.MultipleChoiceField(
        label="Languages it is offered in",
        required=False,
        choices=[],  # set per listing in __init__
        widget=forms.CheckboxSelectMultiple,
    )
    address_1 = forms.CharField(label="Street address", max_length=300, required=False)
    address_2 = forms.CharField(label="Suite, unit", max_length=300, required=False)
    city = forms.CharField(label="City", max_length=200, required=False)
    state_province = forms.CharField(label="State", max_length=100, required=False)
    postal_code = forms.CharField(
        label="ZIP code",
        max_length=10,
        required=False,
        help_text="Places the listing on the map, for searches by distance.",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "postal-code"}),
    )
    phone = forms.CharField(
        label="Phone",
        max_length=50,
        required=False,
        help_text="The program's own line; the organization's main number is listed beside it.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    application_process = forms.CharField(
        label="How to apply",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    wait_time = forms.CharField(label="Usual wait", max_length=300, required=False)
    url = forms.URLField(label="Website", max_length=500, required=False, assume_scheme="https")
    email = forms.EmailField(label="E-mail", max_length=254, required=False)
    verified = forms.BooleanField(
        label="I have checked the whole listing: mark it verified today",
        required=False,
        initial=True,
    )

    def __init__(self, *args, listed_languages: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        usual = [(code, name) for code, name in LANGUAGE_CHOICES if code]
        known = {code for code, _ in usual}
        listed = sorted((listed_languages or {}).items())
        self.fields["languages"].choices = usual + [
            (code, name or code) for code, name in listed if code not in known
        ]

    @classmethod
    def for_service(cls, service, data=None) -> "ListingForm":
        """The form for `service` (its terms and languages prefetched), bound to `data` if
        given; unbound, it starts from what the listing says now."""
        listed = {language.code: language.name for language in service.languages.all()}
        listed.pop("", None)
        own = {vocabulary: [] for vocabulary in VOCABULARIES}
        for term in service.terms.all():
            if term.taxonomy.name in own:
                own[term.taxonomy.name].append(term.code)
        genders = {
            key
            for value in service.genders_served or []
            for key, words in GENDERS.items()
            if str(value).lower() in words
        }
        initial = {field: getattr(service, field) for field in LISTING_FIELDS}
        places = [link.location for link in service.service_at_locations.all()]
        addresses = [
            address
            for address in (places[0].addresses.all() if places else [])
            if address.address_type == "physical"  # the one services.listing_update edits
        ]
        if addresses:
            initial.update({field: getattr(addresses[0], field) for field in cls.PLACE})
        phones = list(service.phones.all())
        initial["phone"] = phones[0].number if phones else ""
        initial.update(
            needs=own[NEEDS],
            populations=own[POPULATIONS],
            payment=own[PAYMENT],
            genders_served=sorted(genders),
            court_ordered_accepted={True: "yes", False: "no"}.get(
                service.court_ordered_accepted, ""
            ),
            languages=list(listed),
        )
        form = cls(data, initial=initial, listed_languages=listed)
        if len(places) > 1:
            for field in cls.PLACE:
                del form.fields[field]
        elif places and location_shared(places[0], but=service):
            form.fields[
                "address_1"
            ].help_text = (
                "Other listings are at this address too: a new address moves only this one."
            )
        return form

    def listing_arguments(self) -> dict:
        """The keyword arguments of services.listing_update (call after is_valid())."""
        data = self.cleaned_data
        return {
            "changes": {field: data[field] for field in LISTING_FIELDS},
            "terms": {field: data[field] for field in LISTING_VOCABULARIES},
            "languages": data["languages"],
            "verified": data.get("verified", False),
            "place": self._place(),
            "phone": data["phone"],
        }

    def _place(self) -> ListingPlace | None:
        """The address typed, or None when the form has none or it was left empty."""
        if "address_1" not in self.fields:
            return None
        place = {field: self.cleaned_data[field] for field in self.PLACE}
        return ListingPlace(**place) if any(place.values()) else None


class ListingCreateForm(ListingForm):
    """A new listing of the agency: what ListingForm asks, without the "verified" box (a new
    listing is checked as it is written)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"status": Status.ACTIVE})
        super().__init__(*args, **kwargs)
        del self.fields["verified"]

    def listing_arguments(self) -> dict:
        """The keyword arguments of services.listing_create (call after is_valid())."""
        arguments = super().listing_arguments()
        del arguments["verified"]
        return arguments
