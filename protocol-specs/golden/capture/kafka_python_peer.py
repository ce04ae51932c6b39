#!/usr/bin/python3
"""kafka-python (Debian python3-kafka) workload for the golden-frame capture.

Usage: kafka_python_peer.py mock BOOTSTRAP   # producers, consumer groups, offsets
       kafka_python_peer.py stub ADDR        # admin requests and SASL/PLAIN login
"""
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

CODECS = ["none", "gzip", "lz4", "snappy", "zstd"]


def value(peer, codec, i):
    return "%s/%s/%d %s" % (peer, codec, i, "abc" * 20)


def records(peer, codec):
    return [
        (b"k0", value(peer, codec, 0).encode(), [("h0", b"v0")]),
        (b"k1", value(peer, codec, 1).encode(), [("h1", b"v1"), ("h1b", b"")]),
        (None, value(peer, codec, 2).encode(), []),
    ]


def produce(bootstrap):
    for codec in CODECS:
        producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            client_id="golden-python-producer-" + codec,
            compression_type=None if codec == "none" else codec,
            linger_ms=100,
        )
        futures = [producer.send("golden-python-" + codec, key=k, value=v, headers=h)
                   for k, v, h in records("python", codec)]
        producer.flush(10)
        for f in futures:
            f.get(10)
        producer.close(5)


def produce_legacy(bootstrap):
    """Magic v1 message sets (Produce v2); the mock rejects them, the request is what we want."""
    for codec in ["none", "gzip", "lz4", "snappy"]:
        producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            client_id="golden-python-legacy-" + codec,
            compression_type=None if codec == "none" else codec,
            api_version=(0, 10, 1),
            linger_ms=100,
            retries=0,
        )
        futures = [producer.send("golden-python-legacy", key=k, value=v)
                   for k, v, _ in records("legacy", codec)]
        producer.flush(10)
        for f in futures:
            try:
                f.get(5)
            except Exception as e:  # expected: the mock only stores magic v2
                print("legacy %s: %r" % (codec, e), file=sys.stderr)
                break
        producer.close(5)


def consume(bootstrap, group, topics, expect, api_version=None):
    extra = {"api_version": api_version} if api_version else {}
    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        client_id="golden-python-consumer-" + group,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        heartbeat_interval_ms=200,
        **extra
    )
    got = 0
    deadline = time.time() + 30
    while got < expect and time.time() < deadline:
        for recs in consumer.poll(timeout_ms=500).values():
            got += len(recs)
    if got < expect:
        raise SystemExit("%s: got %d of %d records" % (group, got, expect))
    consumer.commit()
    end = time.time() + 1.0
    while time.time() < end:
        consumer.poll(timeout_ms=100)
    tp = TopicPartition(topics[0], 0)
    print("committed", consumer.committed(tp), file=sys.stderr)
    print("end", consumer.end_offsets([tp]), "begin", consumer.beginning_offsets([tp]),
          file=sys.stderr)
    if api_version is None:
        print("times", consumer.offsets_for_times({tp: 0}), file=sys.stderr)
    consumer.close()


def mock(bootstrap):
    produce(bootstrap)
    produce_legacy(bootstrap)
    consume(bootstrap, "golden-python-group", ["golden-python-" + c for c in CODECS], 15)
    consume(bootstrap, "golden-python-oldgroup", ["golden-python-gzip"], 3,
            api_version=(0, 10, 1))


def stub(addr):
    admin = KafkaAdminClient(bootstrap_servers=addr, client_id="golden-python-admin")
    admin.create_topics([
        NewTopic("golden-admin-py-a", 3, 1),
        NewTopic("golden-admin-py-b", 1, 1, topic_configs={"cleanup.policy": "compact"}),
    ], timeout_ms=5000)
    admin.delete_topics(["golden-admin-py-a", "golden-admin-py-b"], timeout_ms=5000)
    print("groups", admin.list_consumer_groups(), file=sys.stderr)
    print("describe", admin.describe_consumer_groups(["golden-stub-group"]), file=sys.stderr)
    admin.close()
    sasl = KafkaAdminClient(
        bootstrap_servers=addr,
        client_id="golden-python-sasl",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_plain_username="golden-user",
        sasl_plain_password="golden-secret",
    )
    print("sasl groups", sasl.list_consumer_groups(), file=sys.stderr)
    sasl.close()


if __name__ == "__main__":
    {"mock": mock, "stub": stub}[sys.argv[1]](sys.argv[2])
