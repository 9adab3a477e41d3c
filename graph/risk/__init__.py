"""Risk analytics: pure scoring and structural analyses, plus thin Neo4j adapters (``graph.risk.store``)."""
