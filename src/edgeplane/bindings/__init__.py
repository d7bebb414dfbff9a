"""Bindings: storage a worker reaches through ``scope["env"]`` (KV today; objects, SQL, analytics next).

Each kind has ``<kind>/base.py`` (the small backend protocol), a front object with the Cloudflare-compatible
API and limits, and one module per backend. This package imports no backend, so optional drivers stay optional.
"""
