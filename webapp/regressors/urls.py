from django.urls import path

from webapp.regressors import views

app_name = "regressors"

urlpatterns = [
    path("staff/regressors/", views.regressor_list_page, name="list"),
    path("staff/regressors/<int:regressor_id>/", views.regressor_page, name="detail"),
    path("staff/training/", views.training_list_page, name="trainings"),
    path("staff/training/<int:job_id>/", views.training_page, name="training"),
    path("staff/training/<int:job_id>/curves.png", views.training_curves, name="training-curves"),
    path("staff/training/<int:job_id>/cancel/", views.training_cancel, name="training-cancel"),
]
