"""The live relabeling service: consumes agent runs from Kafka, produces training examples.

Built on plain aiokafka (docs/design.md says why). Importing this package imports no Kafka client;
the modules that need one import it themselves.
"""
