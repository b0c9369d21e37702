from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self):
        from accounts import checks, signals  # noqa: F401 - registers the receivers and the system checks
