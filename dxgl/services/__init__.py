"""Business rules: every rule of the service lives once, here."""
