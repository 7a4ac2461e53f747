"""The columns of HubSpot's contacts and companies exports (each with the header HubSpot writes
and the other spellings portals and hand-made files use), the words its status cells hold, and
how the kind of export is told from its header."""

from referloop.core.imports.columns import Column, header_key
from referloop.partners.models import Stage

CONTACTS = "contacts"
COMPANIES = "companies"
KINDS = (CONTACTS, COMPANIES)

# The contacts export's default view first, in HubSpot's order, then the columns portals add.
CONTACT_COLUMNS = (
    Column("record_id", "Record ID", ("Contact ID", "HubSpot ID", "hs_object_id"), 100),
    Column("first_name", "First Name", ("firstname", "Given name"), 100),
    Column("last_name", "Last Name", ("lastname", "Surname", "Family name"), 100),
    Column("email", "Email", ("E-mail", "Email address"), 254),
    Column("phone", "Phone Number", ("Phone",), 50),
    Column("owner", "Contact owner", ("Owner", "HubSpot owner", "hubspot_owner_id"), 254),
    Column("company_id", "Primary Associated Company ID", ("associatedcompanyid",), 100),
    Column("last_activity", "Last Activity Date", ("Last activity", "notes_last_updated")),
    Column("lead_status", "Lead Status", ("hs_lead_status",)),
    Column("marketing_status", "Marketing contact status", ("hs_marketable_status",)),
    Column("created", "Create Date", ("Created", "createdate")),
    Column("company", "Associated Company", ("Primary Associated Company",), 300),
    Column("title", "Job Title", ("Title", "jobtitle"), 200),
    Column("mobile", "Mobile Phone Number", ("Mobile", "Mobile phone", "mobilephone"), 50),
    Column("other_emails", "Additional email addresses", ("hs_additional_emails",)),
    Column("company_ids", "Associated Company IDs", ("Associated companies IDs",)),
    Column("company_name", "Company Name", ("Company",), 300),
    Column("lifecycle", "Lifecycle Stage", ("lifecyclestage",)),
)
COMPANY_COLUMNS = (
    Column("record_id", "Record ID", ("Company ID", "HubSpot ID", "hs_object_id"), 100),
    Column("name", "Company name", ("Name", "Company", "Organization"), 300),
    Column("owner", "Company owner", ("Owner", "HubSpot owner", "hubspot_owner_id"), 254),
    Column("created", "Create Date", ("Created", "createdate")),
    Column("phone", "Phone Number", ("Phone",), 50),
    Column("last_activity", "Last Activity Date", ("Last activity", "notes_last_updated")),
    Column("city", "City"),
    Column("state", "State/Region", ("State", "Region")),
    Column("country", "Country/Region", ("Country",)),
    Column("industry", "Industry"),
    Column("domain", "Company Domain Name", ("Domain", "Website URL", "Website"), 500),
    Column("lead_status", "Lead Status", ("hs_lead_status",)),
    Column("lifecycle", "Lifecycle Stage", ("lifecyclestage",)),
    Column("contact_ids", "Associated Contact IDs", ("Associated contacts IDs",)),
)
COLUMNS = {
    CONTACTS: {column.name: column for column in CONTACT_COLUMNS},
    COMPANIES: {column.name: column for column in COMPANY_COLUMNS},
}
HEADERS = {
    kind: [column.header for column in columns.values()] for kind, columns in COLUMNS.items()
}
# Columns HubSpot owns and Referloop has no field for: kept on the link, under their header,
# and written back where the export has them.
KEPT = {
    CONTACTS: ("marketing_status", "created"),
    COMPANIES: ("created", "city", "state", "country", "industry"),
}
# Cells holding several values: HubSpot separates them with ";".
MULTI_VALUE_SEPARATOR = ";"


def kind_detect(header: list[str]) -> str | None:
    """Contacts when the header has a person's name or e-mail; companies when it has a company's
    name or domain (a contacts export may name the company too, so people are looked for first)."""
    keys = {header_key(text) for text in header}
    if keys & {"firstname", "lastname", "email"}:
        return CONTACTS
    if keys & {"companyname", "companydomainname"}:
        return COMPANIES
    return None


# --- what HubSpot's status cells mean for a relationship's stage -------------------------------
# HubSpot's default lead statuses and lifecycle stages, and the stage each clearly means. A
# portal's own statuses, HubSpot's "Other" and blanks mean no stage: the default applies.

LEAD_STATUS_STAGES = {
    "New": Stage.REACH_OUT,
    "Open": Stage.REACH_OUT,
    "Attempted to contact": Stage.REACH_OUT,
    "Connected": Stage.RAPPORT,
    "In progress": Stage.RAPPORT,
    "Open deal": Stage.MUTUAL_BENEFITS,
    "Unqualified": Stage.NOT_A_FIT,
    "Bad timing": Stage.DORMANT,
}
LIFECYCLE_STAGES = {
    "Lead": Stage.REACH_OUT,
    "Subscriber": Stage.REACH_OUT,
    "Marketing qualified lead": Stage.RAPPORT,
    "Sales qualified lead": Stage.RAPPORT,
    "Opportunity": Stage.MUTUAL_BENEFITS,
    "Customer": Stage.TRUST,
    "Evangelist": Stage.LASTING,
}
STAGE_BY_LEAD_STATUS = {header_key(word): stage for word, stage in LEAD_STATUS_STAGES.items()}
STAGE_BY_LIFECYCLE = {header_key(word): stage for word, stage in LIFECYCLE_STAGES.items()}
# What the export writes for each stage: the first word above that means it (trust and lasting
# have no lead status; dormant and not a fit no lifecycle stage), so it imports back as itself.
LEAD_STATUS_OF = {
    stage: next((w for w, s in LEAD_STATUS_STAGES.items() if s == stage), "") for stage in Stage
}
LIFECYCLE_OF = {
    stage: next((w for w, s in LIFECYCLE_STAGES.items() if s == stage), "") for stage in Stage
}
