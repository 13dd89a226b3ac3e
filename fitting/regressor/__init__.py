"""Image-to-SMPL regressors (HMR as in SPIN / EFT)."""
