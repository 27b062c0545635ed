"""RIFE frame interpolation with the user's own weights: our IFNet, their weight files."""
