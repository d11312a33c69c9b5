"""The durable transaction outbox: write, sign and number first, broadcast after."""
