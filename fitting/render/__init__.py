"""Headless rendering with pyrender (EGL first, OSMesa as fallback)."""
