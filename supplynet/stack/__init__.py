"""The local stack: Kafka, Neo4j and Pulsar as JVM processes started from Maven Central jars."""

from supplynet.stack.manager import StackError, StackManager, ServerStatus

__all__ = ["ServerStatus", "StackError", "StackManager"]
