from django.contrib import admin

from referloop.directory.models import (
    Location,
    Organization,
    Service,
    ServiceCapacity,
    Taxonomy,
    TaxonomyTerm,
)
from referloop.directory.services import search_text_refresh


class CapacityInline(admin.TabularInline):
    """Shown, not edited: counts change on the service's page, through the API or from a feed,
    which keep their history and the service's "has capacity now"."""

    model = ServiceCapacity
    extra = 0
    fields = ["unit", "name", "available", "maximum", "waitlist", "updated_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "network", "agency", "last_verified_at"]
    list_filter = ["network"]
    search_fields = ["name", "source_id"]
    list_select_related = ["network", "agency"]
    autocomplete_fields = ["agency"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # The organization's name is part of its services' search text.
        search_text_refresh(service_ids=obj.services.values_list("pk", flat=True))


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "status", "has_capacity", "last_verified_at"]
    list_filter = ["status", "has_capacity", "network"]
    search_fields = ["name", "source_id", "organization__name"]
    list_select_related = ["organization"]
    raw_id_fields = ["organization"]
    exclude = ["terms"]
    inlines = [CapacityInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        search_text_refresh(service_ids=[obj.pk])  # the name and description are searched


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "location_type", "latitude", "longitude"]
    search_fields = ["name", "source_id"]
    raw_id_fields = ["organization"]


class TermInline(admin.TabularInline):
    model = TaxonomyTerm
    extra = 0
    fields = ["code", "name", "description"]


@admin.register(Taxonomy)
class TaxonomyAdmin(admin.ModelAdmin):
    list_display = ["name", "version"]
    inlines = [TermInline]
