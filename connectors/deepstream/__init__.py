"""DeepStream edge analytics: nvmsgconv payloads from Kafka, and a pyds probe for edge boxes."""
