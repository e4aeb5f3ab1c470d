"""Model profiles: what a model's inputs, outputs, actuals and evaluations looked like on reference data."""
