"""Rotations, cameras, crops. Conventions are stated at the top of each module."""
