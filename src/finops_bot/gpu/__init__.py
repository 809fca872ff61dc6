"""GPU fleet: agent tokens, heartbeat batches (schema, validation, storage), retention."""
