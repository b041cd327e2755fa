"""Stand-ins for the Jetson's own tools (L4T) on a simulated lab Jetson: ``tegrastats``."""
