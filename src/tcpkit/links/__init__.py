"""Drivers that move packets and own clocks: they call into the engine and the stack,
which never import them."""
