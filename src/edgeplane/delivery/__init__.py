"""Delivery: resolving versions, validating traffic splits (strategies and rollouts come later)."""
