"""Protocol-faithful fake servers for the remote providers (shared PROTOCOLS.md), on 127.0.0.1."""
