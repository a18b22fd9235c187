"""The HTTP API edge: ``create_app(settings)`` and the routes it serves."""

from codeweaver.api.app import create_app

__all__ = ["create_app"]
