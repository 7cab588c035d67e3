"""Policies, matching and service packages (DESIGN §7)."""
