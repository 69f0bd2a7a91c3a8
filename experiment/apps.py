from django.apps import AppConfig


class ExperimentConfig(AppConfig):
    name = "experiment"
    verbose_name = "AM rating experiment"

    def ready(self):
        from experiment import signals  # noqa: F401  (connects the receivers)
