"""Consumer contracts with RealtimeKit: the consumers, their pact tests, the pacts."""
