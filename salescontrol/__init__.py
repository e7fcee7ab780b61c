"""SalesControl's shared core: configuration, database, storage, Pub/Sub, topology.

The deployables (functions/, asr_service/, dashboard/) import it; recorder/ does not.
"""

__version__ = "0.1.0"
