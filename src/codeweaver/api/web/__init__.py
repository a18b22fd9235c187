"""The web page for people: static assets served by ``codeweaver serve`` and the
server-side syntax highlighting the JSON API adds on request."""

from codeweaver.api.web.highlight import highlight_lines
from codeweaver.api.web.pages import asset, index_page

__all__ = ["asset", "highlight_lines", "index_page"]
