from django.urls import path

from webapp.crowd import apis, views

app_name = "crowd"

urlpatterns = [
    path("hit/<int:hit_id>/", views.hit_page, name="hit"),
    path("api/crowd/votes/", apis.VoteApi.as_view(), name="vote"),
    path("work/", views.queue_page, name="queue"),
    path("work/assignments/<int:assignment_id>/", views.assignment_page, name="assignment"),
    path("work/join/<str:code>/", views.join_page, name="join"),
    path("work/instructions/", views.instructions_page, name="instructions"),
    path("work/sign-in/", views.WorkerLoginView.as_view(), name="login"),
    path("work/sign-out/", views.logout_page, name="logout"),
]
