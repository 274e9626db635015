"""mailflow: an email-driven complaint desk for Disdukcapil offices."""

__version__ = "0.1.0"
