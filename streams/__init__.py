"""The faust stream processor: topics, agents (validate, project) and the error policy."""
