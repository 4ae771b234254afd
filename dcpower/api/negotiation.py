"""Content negotiation for views whose answers have a media type fixed by the view."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation


class IgnoreAcceptHeader(DefaultContentNegotiation):
    """The view's first renderer, whatever the Accept header says: a CSV export answers the
    file (built by the view) or a JSON error, and a client that asks for ``text/csv`` must get
    one of those, not a 406. Request bodies are still parsed by their Content-Type."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
