"""The operator dashboard: server-rendered pages on the API app at ``/dashboard``."""
