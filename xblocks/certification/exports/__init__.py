"""Exports and deliveries of certification records to HR systems."""
