from django.contrib import admin

from referloop.directory.models import (
    Location,
    Organization,
    Service,
    ServiceCapacity,
    Taxonomy,
    TaxonomyTerm,
)


class CapacityInline(admin.TabularInline):
    model = ServiceCapacity
    extra = 0
    fields = ["unit", "available", "maximum", "waitlist", "updated_at"]
    readonly_fields = ["updated_at"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "network", "agency", "last_verified_at"]
    list_filter = ["network"]
    search_fields = ["name", "source_id"]
    list_select_related = ["network", "agency"]
    autocomplete_fields = ["agency"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "status", "has_capacity", "last_verified_at"]
    list_filter = ["status", "has_capacity", "network"]
    search_fields = ["name", "source_id", "organization__name"]
    list_select_related = ["organization"]
    raw_id_fields = ["organization"]
    exclude = ["terms"]
    inlines = [CapacityInline]


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
