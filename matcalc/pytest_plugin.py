"""pytest plugin (pytest11 entry point): collects identity files as tests. Filled in by the verify work."""
