"""Training: the SFT recipe, label masking and its verification."""
