"""The local stack: Kafka, Neo4j and Pulsar as JVM processes started from Maven Central jars."""

from supplynet.stack.manager import ServerStatus, StackError, StackManager

__all__ = ["ServerStatus", "StackError", "StackManager"]
