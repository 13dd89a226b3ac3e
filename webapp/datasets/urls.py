from django.urls import path

from webapp.datasets import apis, views

app_name = "datasets"

urlpatterns = [
    path("staff/datasets/", views.dataset_list_page, name="list"),
    path("staff/datasets/<int:dataset_id>/", views.dataset_detail_page, name="detail"),
    path("staff/people/<int:person_id>.png", views.person_picture, name="person-picture"),
    path("api/datasets/", apis.DatasetListCreateApi.as_view(), name="api-list"),
    path("api/datasets/<int:dataset_id>/", apis.DatasetDetailApi.as_view(), name="api-detail"),
]
