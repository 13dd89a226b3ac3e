from django.contrib import admin

from webapp.core.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin[WorkerHeartbeat]):
    list_display = ("hostname", "last_seen", "torch_device", "renderer_backend", "queues", "beats")
    readonly_fields = (
        "hostname",
        "first_seen",
        "last_seen",
        "pid",
        "queues",
        "torch_device",
        "renderer_backend",
        "beats",
    )
