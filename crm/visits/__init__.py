"""Visits (走访), the visit cadence of each tier and the commissioner's day."""
