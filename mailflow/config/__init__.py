"""Configuration: mailflow.toml, the rules files, the complaint format and the
calendar, read once at start-up through one TOML reader (``toml``) into the
core's values; every error names the file, the key and the fix."""
