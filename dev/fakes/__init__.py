"""Protocol-faithful fake servers for the remote providers (docs/protocols.md), on 127.0.0.1."""
