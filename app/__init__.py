"""The dashboard's shared pieces: cached models and results, URL-synced settings, widgets."""
