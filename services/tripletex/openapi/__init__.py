"""The part of Tripletex's published OpenAPI document this project uses (see README.md here)."""
