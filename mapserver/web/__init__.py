"""The Flask web layer: thin blueprints over the services."""

from mapserver.web.app import create_app, create_served_app

__all__ = ["create_app", "create_served_app"]
