"""HTTP handlers: parse the request, call a state model, serialise the answer."""
