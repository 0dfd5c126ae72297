"""The live dashboard: a page for signed-in users, built on the event stream and the REST API
like any other client. Its template and static files stay under realtime/, where Django finds
them."""
