"""Batch jobs built on the speechqa library."""
