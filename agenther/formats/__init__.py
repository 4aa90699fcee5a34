"""Trainer formats of Stage 4: one module per format, all rendered from one ``Episode``."""
