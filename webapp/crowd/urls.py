from django.urls import path

from webapp.crowd import apis, staff_views, views

app_name = "crowd"

urlpatterns = [
    path("hit/<int:hit_id>/", views.hit_page, name="hit"),
    path("hit/pictures/<str:signed>/", views.hit_picture, name="picture"),
    path("api/crowd/votes/", apis.VoteApi.as_view(), name="vote"),
    path("work/", views.queue_page, name="queue"),
    path("work/assignments/<int:assignment_id>/", views.assignment_page, name="assignment"),
    path("work/join/<str:code>/", views.join_page, name="join"),
    path("work/instructions/", views.instructions_page, name="instructions"),
    path("work/sign-in/", views.WorkerLoginView.as_view(), name="login"),
    path("work/sign-out/", views.logout_page, name="logout"),
    path("staff/campaigns/", staff_views.campaign_list_page, name="campaigns"),
    path("staff/campaigns/<int:campaign_id>/", staff_views.campaign_page, name="campaign"),
    path(
        "staff/campaigns/<int:campaign_id>/review/", staff_views.campaign_review_page, name="campaign-review"
    ),
    path(
        "staff/campaigns/<int:campaign_id>/<str:action>/", staff_views.campaign_action, name="campaign-action"
    ),
    path("staff/workers/", staff_views.worker_list_page, name="workers"),
    path("staff/workers/<int:worker_id>/", staff_views.worker_page, name="worker"),
    path("api/crowd/campaigns/<int:campaign_id>/", apis.CampaignProgressApi.as_view(), name="api-campaign"),
]
