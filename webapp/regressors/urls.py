from django.urls import path

from webapp.regressors import views

app_name = "regressors"

urlpatterns = [
    path("staff/regressors/", views.regressor_list_page, name="list"),
    path("staff/regressors/<int:regressor_id>/", views.regressor_page, name="detail"),
]
