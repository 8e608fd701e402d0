"""Running trained recognizers: model packages, prediction, score ensembles, ONNX export.

Serving and extraction import this package; training (``model.training``) writes packages.
"""
