"""The live relabeling service: consumes agent runs from Kafka, produces training examples.

Built on plain aiokafka (see CONVENTIONS §4). Importing this package imports no Kafka client;
the modules that need one import it themselves.
"""
