"""Shipped cases and observations (installed as the package ``harbinger_data``)."""
