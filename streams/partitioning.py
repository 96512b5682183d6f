"""Which partition a lead id belongs to, the way Kafka's default partitioner places it."""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def partition_for(key: bytes, partitions: int) -> int:
    # Same formula as the Java client's and aiokafka's default partitioner, so a producer that
    # keys by lead id puts the event on the partition that holds the lead's table entry.
    return (murmur2(key) & 0x7FFFFFFF) % partitions
