from django.apps import AppConfig


class VtuConfig(AppConfig):
    name = "vtu"
    verbose_name = "Data and airtime"
