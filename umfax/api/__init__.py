"""The REST API: faxes in and out, lines, health and metrics, over HTTP with API keys."""
