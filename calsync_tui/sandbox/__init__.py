"""A local, faithful Google Calendar v3 server for tests, benchmarks and the demo.

`SandboxServer` (server.py) is the entry point; `build_demo` (demo.py) fills it with a
seeded, realistic world. Stdlib only (http.server in a background thread), so it starts
in milliseconds inside a test and needs no extra dependency.
"""
