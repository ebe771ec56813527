"""The Client Portal (docs/portal.md): static web app files and their routes."""
