from django.apps import AppConfig


class RegressorsConfig(AppConfig):
    name = "webapp.regressors"
    label = "regressors"
    verbose_name = "regressors (checkpoints fit jobs start from)"
