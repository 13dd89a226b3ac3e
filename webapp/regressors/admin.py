from django.contrib import admin

from webapp.regressors.models import Regressor


@admin.register(Regressor)
class RegressorAdmin(admin.ModelAdmin[Regressor]):
    list_display = ("name", "source", "backbone", "body_kind", "sha256", "created_at")
    list_filter = ("source", "body_kind")
    search_fields = ("name", "sha256")
    # Rows are made by the registry's services (a strict load first): read-only here.
    readonly_fields = tuple(f.name for f in Regressor._meta.get_fields() if getattr(f, "concrete", False))

    def has_add_permission(self, request: object) -> bool:
        return False
