"""What every app shares; it imports no app and nothing of the project's composition root."""
