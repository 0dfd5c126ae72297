import pytest

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
    }
}


def test_health_reports_each_check(anon):
    response = anon.get("/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "channel_layer": "ok"},
    }


def test_health_is_503_when_the_channel_layer_is_down(anon, settings):
    settings.CHANNEL_LAYERS = UNREACHABLE_REDIS

    response = anon.get("/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["channel_layer"].startswith("error")


def test_ping_needs_no_auth(anon):
    response = anon.get("/ping")

    assert response.status_code == 200
    assert response.json() == {"pong": True}


def test_health_rejects_writes(anon):
    assert anon.post("/health").status_code == 405
