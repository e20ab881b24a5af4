"""Services: the rules between the thin web/CLI layers and the pure core."""
