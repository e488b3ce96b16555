"""Google I/O at the edge: OAuth, token store, gateway (googleapiclient), batching, backoff.

- `service`: builds the Calendar v3 client from the shipped discovery document; REST at
  `ROOT/calendar/v3/`, batches at `ROOT/batch/calendar/v3`; one Http per thread.
- `gateway`: `GoogleGateway`, the engine's `types.Gateway` (listing, sync tokens, batched
  writes with adopt-on-409, retries, call counting).
- `backoff`, `pacer`: retry policy (jittered exponential, quota pauses) and the per-account
  token bucket under Google's 600 requests/min.
- `tokens`, `credentials`: keyring-or-0600-file token store; stored token <-> Credentials.
- `client_secrets`, `oauth`: Desktop OAuth client checks and the loopback browser flow.
- `accounts`: what commands and the console call (sign in/out, static tokens, open a
  gateway, probe, status).
- `errors`: `NeedsSignIn`, `GoogleApiError`, and the one-line wording of failures.
"""
