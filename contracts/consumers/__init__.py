"""Two small consumers of RealtimeKit, written for this project, and their pact tests."""
