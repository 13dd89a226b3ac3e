from __future__ import annotations

from django.contrib import admin

from webapp.crowd.models import Assignment, Campaign, GoldItem, Hit, Item, Vote, Worker


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin[Campaign]):
    list_display = ("name", "kind", "provider", "state", "votes_per_item", "items_per_hit", "created_at")
    list_filter = ("kind", "provider", "state")


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin[Worker]):
    list_display = ("provider", "provider_id", "blocked", "created_at")
    list_filter = ("provider", "blocked")
    search_fields = ("provider_id",)


@admin.register(GoldItem)
class GoldItemAdmin(admin.ModelAdmin[GoldItem]):
    list_display = ("fit", "source", "answer", "reason")
    list_filter = ("source", "answer")


admin.site.register(Item)
admin.site.register(Hit)
admin.site.register(Assignment)
admin.site.register(Vote)
