"""Figures for the office (DESIGN §9): their definitions, and what reports them."""
