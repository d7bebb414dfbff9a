"""The data plane: one ASGI app composed of ordered stages (see ``gateway/app.py``)."""
