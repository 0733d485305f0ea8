"""One module per detector."""
