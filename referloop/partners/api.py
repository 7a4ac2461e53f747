"""The partners API: relationships, people, interactions, meetings, materials.

Everything is the token agency's own: another agency's material is a 404 (with an
`access_denied` audit row). Writes go through `partners.services`, as on the web."""

from ninja import Router, Schema
from ninja import Status as HttpStatus
from ninja.pagination import paginate
from pydantic import Field

from referloop.core.access import api_require
from referloop.core.permissions import Perm
from referloop.core.schemas import DomainErrorOut, ErrorOut, InputSchema, Text, ValidationErrorOut
from referloop.core.scoping import get_for_user_or_404
from referloop.partners import selectors, services
from referloop.partners.models import Material, MaterialKind

router = Router(tags=["partners"])

MAX_ON_HAND = 1_000_000


# --- schemas -----------------------------------------------------------------------------------


class MaterialIn(InputSchema):
    name: Text(200, required=True)
    kind: MaterialKind
    on_hand: int = Field(0, ge=0, le=MAX_ON_HAND, description="How many are on the shelf")
    is_welcome_packet: bool = Field(
        False, description="Sending it clears a person's 'send the welcome packet' item"
    )
    is_active: bool = True


class MaterialPatch(InputSchema):
    """Only the fields given change."""

    name: Text(200, required=True) = None
    kind: MaterialKind = None
    on_hand: int = Field(None, ge=0, le=MAX_ON_HAND)
    is_welcome_packet: bool = None
    is_active: bool = None


class MaterialOut(Schema):
    id: int
    name: str
    kind: str
    on_hand: int
    is_welcome_packet: bool
    is_active: bool


# --- materials ---------------------------------------------------------------------------------


@router.get(
    "/materials",
    response={200: list[MaterialOut], 401: ErrorOut, 403: ErrorOut, 422: ValidationErrorOut},
    summary="The agency's print materials, with the count on hand",
)
@paginate
def material_list(request):
    api_require(request, Perm.VIEW)
    return selectors.agency_materials(agency=request.agency)


@router.post(
    "/materials",
    response={
        201: MaterialOut,
        400: DomainErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        422: ValidationErrorOut,
    },
    summary="Add a print material",
)
def material_create(request, payload: MaterialIn):
    """400 with `field` "name": the agency already has a material of that name."""
    api_require(request, Perm.WRITE)
    material = services.material_save(
        agency=request.agency, actor=request.user, request=request, **payload.model_dump()
    )
    return HttpStatus(201, material)


@router.patch(
    "/materials/{int:material_id}",
    response={
        200: MaterialOut,
        400: DomainErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        422: ValidationErrorOut,
    },
    summary="Change a print material (its name, type, count on hand, use)",
)
def material_update(request, material_id: int, payload: MaterialPatch):
    """400 with `field` "name": another material of the agency has that name."""
    api_require(request, Perm.WRITE)
    material = get_for_user_or_404(Material, request, pk=material_id)
    current = {name: getattr(material, name) for name in MaterialIn.model_fields}
    return services.material_save(
        agency=request.agency,
        actor=request.user,
        material=material,
        request=request,
        **{**current, **payload.model_dump(exclude_unset=True)},
    )
