"""Pure builders: Answer → plain text, JSON (Block Kit comes with the Slack app)."""
