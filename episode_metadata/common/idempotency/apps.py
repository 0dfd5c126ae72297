from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    name = "episode_metadata.common.idempotency"
    label = "idempotency"
    verbose_name = "Idempotency keys"
