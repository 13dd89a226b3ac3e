"""The fitting engine: a pure PyTorch / numpy library (never imports Django).

Body model, joint sets, crops and cameras, the HMR regressor, Exemplar Fine-Tuning, SMPLify,
metrics, rendering and the export format. Paths, devices and configurations are passed in.
"""

__version__ = "0.1.0"
