"""TLM runtime: services (use cases), ports, adapters, settings and the composition root.

Shipped to Lambda as a layer. Nothing here imports torch, transformers or sagemaker.
"""
