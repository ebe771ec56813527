"""The look of a product shot measured against model-viewer (issue 15's reference comparison)."""
