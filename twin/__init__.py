"""The plant: YAML model, seeded simulator, field servers and the 3D scene."""
