"""Renderers: one module per output format.  rich is used only here and in the CLI."""
