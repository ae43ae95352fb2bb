"""The coordinator: data collection, charging and selling decisions, session planning."""
