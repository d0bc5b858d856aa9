"""The plan layer: pure generators from a Topology (and Applications) to objects/files."""
