from django.dispatch import Signal

# Sent after the transaction holding a new activity row commits, with `entry`.
activity_committed = Signal()
