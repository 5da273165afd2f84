"""One recipe per model family: budget settings and the wiring of networks, objective and data."""
