"""One module per revision, numbered 0001, 0002, ... in the order they apply."""
