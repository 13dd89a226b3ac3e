"""Readers for the 2D keypoint datasets EFT fits (pure library: no Django)."""
