"""VizECG core."""
