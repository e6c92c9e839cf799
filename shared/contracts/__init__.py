"""The public contracts: versioned event and command models, topic names and retention,
and the tooling that writes their JSON Schema and AsyncAPI."""
