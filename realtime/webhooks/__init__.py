"""Outgoing webhooks: the event stream's activity events, POSTed to endpoints staff register,
signed as the Standard Webhooks specification says (docs/webhooks.md)."""
