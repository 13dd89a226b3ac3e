from django.urls import path

from webapp.fits import apis, views

app_name = "fits"

urlpatterns = [
    path("staff/jobs/", views.job_list_page, name="jobs"),
    path("staff/jobs/<int:job_id>/", views.job_page, name="job"),
    path("staff/jobs/<int:job_id>/plots.png", views.job_plots, name="job-plots"),
    path("staff/jobs/<int:job_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("staff/jobs/<int:job_id>/retry/", views.job_retry, name="job-retry"),
    path("staff/fits/<int:fit_id>/", views.fit_page, name="fit"),
    path("api/fits/jobs/", apis.FitJobListApi.as_view(), name="api-jobs"),
    path("api/fits/jobs/<int:job_id>/", apis.FitJobDetailApi.as_view(), name="api-job"),
]
