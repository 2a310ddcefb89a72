"""tradeanomaly: fraud signals in international trade statistics."""

__version__ = "0.1.0"
