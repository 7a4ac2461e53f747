from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "referloop.directory"
    label = "directory"
    verbose_name = "Resource directory"
