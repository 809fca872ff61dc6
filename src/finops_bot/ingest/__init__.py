"""Readers that stream billing files into normalised chunks."""
