"""Referloop's default vocabularies, written by us in the spirit of Open Eligibility: short,
plain-language needs, populations and ways to pay that match what intake workers ask about.
Agencies may import other taxonomies (AIRS/211, Open Eligibility) through HSDS import."""

NEEDS = "Referloop needs"
POPULATIONS = "Referloop populations"
PAYMENT = "Referloop payment"

VOCABULARIES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    NEEDS: (
        "What a person needs help with.",
        [
            ("addiction-treatment", "Addiction treatment"),
            ("detox", "Detox / withdrawal management"),
            ("medication-for-addiction", "Medication for addiction (MAT/MOUD)"),
            ("sober-living", "Sober living / recovery housing"),
            ("peer-support", "Peer recovery support"),
            ("counseling", "Counseling / therapy"),
            ("mental-health", "Mental health care"),
            ("crisis", "Crisis services"),
            ("domestic-violence", "Domestic violence services"),
            ("medical-care", "Medical care"),
            ("legal-aid", "Legal aid"),
            ("reentry", "Reentry support"),
            ("housing", "Housing"),
            ("shelter", "Emergency shelter"),
            ("employment", "Employment"),
            ("education", "Education"),
            ("food", "Food"),
            ("transportation", "Transportation"),
            ("benefits", "Benefits enrollment"),
            ("case-management", "Case management"),
            ("childcare", "Childcare"),
        ],
    ),
    POPULATIONS: (
        "Groups a program is specifically for.",
        [
            ("adults", "Adults"),
            ("youth", "Youth"),
            ("women", "Women"),
            ("men", "Men"),
            ("families", "Families"),
            ("pregnant-parenting", "Pregnant or parenting"),
            ("veterans", "Veterans"),
            ("justice-involved", "Justice-involved"),
            ("lgbtq", "LGBTQ+"),
            ("seniors", "Older adults"),
        ],
    ),
    PAYMENT: (
        "Insurance and ways to pay a program accepts.",
        [
            ("medicaid", "Medicaid"),
            ("medicare", "Medicare"),
            ("private-insurance", "Private insurance"),
            ("sliding-fee", "Sliding fee scale"),
            ("self-pay", "Self-pay"),
            ("free", "Free of charge"),
            ("uninsured", "Serves uninsured people"),
        ],
    ),
}
