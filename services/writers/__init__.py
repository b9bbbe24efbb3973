"""The command writers, one per side that the engine writes to (Tripletex and Svenn)."""
