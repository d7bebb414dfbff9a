"""Admin API routers, one module per command group; ``control/api.py`` assembles them."""
