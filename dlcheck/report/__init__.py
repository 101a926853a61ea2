"""Renderers: rich console output, JSON, CSV and images. The library never prints; these do."""
