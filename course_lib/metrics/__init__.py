"""Measurements: Frechet distances in several feature spaces, mode coverage, memorisation."""
