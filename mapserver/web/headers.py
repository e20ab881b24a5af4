"""Security headers sent with every response: CSP with a per-request script nonce, and friends."""

from __future__ import annotations

# Tile servers the map page's basemap switch may load (static/js/map.js): OSM and Gaode.
TILE_SOURCES: tuple[str, ...] = ("https://tile.openstreetmap.org", "https://*.is.autonavi.com")


def content_security_policy(nonce: str | None) -> str:
    """Return the Content-Security-Policy of our pages.

    Scripts, style sheets, fetches and event streams come from this site only; an inline
    ``<script>`` runs only when it carries this response's ``nonce``. Inline ``style``
    attributes stay allowed (legend swatches are coloured that way), ``<style>`` elements
    do not. Images: this site, ``data:``/``blob:`` and the basemap tile servers. No site
    may frame our pages.
    """
    scripts = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            "style-src-elem 'self'",
            "style-src-attr 'unsafe-inline'",
            "img-src 'self' data: blob: " + " ".join(TILE_SOURCES),
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def security_headers(nonce: str | None) -> dict[str, str]:
    """Return the headers every response carries (CSP, no framing, no sniffing, referrer)."""
    return {
        "Content-Security-Policy": content_security_policy(nonce),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
