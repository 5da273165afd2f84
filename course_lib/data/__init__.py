"""Datasets of the course: procedural anime faces, real image folders, 2-D toys, digits, photos."""
