"""The partner graph in Neo4j: migrations, the batched writer and read views. Imports only ``schema``."""
