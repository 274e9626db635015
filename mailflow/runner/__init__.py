"""Running mailflow: wiring the parts from settings (``app``), the daemon's
loop with its sender thread, and logging."""
