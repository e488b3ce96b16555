"""Google I/O at the edge: OAuth, token store, gateway (googleapiclient), batching, backoff."""
