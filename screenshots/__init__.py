"""Screenshots of the console on the sandbox demo world (`make screenshots`)."""
