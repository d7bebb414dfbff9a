"""Gateway stages, one module each; ``gateway/app.py`` composes them in request order."""
