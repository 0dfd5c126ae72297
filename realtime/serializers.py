from rest_framework import serializers


class TicketSerializer(serializers.Serializer):
    ticket = serializers.CharField(
        help_text="Connect with `/ws/events/?ticket=<ticket>`; it lets one socket in, once."
    )
    expires_in = serializers.IntegerField(min_value=1, help_text="Seconds left to connect with it.")
