"""A kafka-python consumer-group member for tests/group_python.rs.

Usage: /usr/bin/python3 kafka_python_member.py BROKERS TOPIC GROUP
(Debian's python3-kafka 2.0.2.) Joins GROUP with kafka-python's default
strategies (range, then roundrobin), reads TOPIC from the earliest offset
with kafka-python's default auto-commit, and prints one JSON line per
assignment ({"join":...}) and per record ({"record":...}). Closing stdin
closes the consumer (commit, LeaveGroup) and exits.
"""
import json
import sys
import threading

from kafka import KafkaConsumer
from kafka.consumer.subscription_state import ConsumerRebalanceListener

brokers, topic, group = sys.argv[1:4]
led = {"now": False}
stop = threading.Event()


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Listener(ConsumerRebalanceListener):
    def on_partitions_revoked(self, revoked):
        led["now"] = False

    def on_partitions_assigned(self, assigned):
        out({"join": {
            "leader": led["now"],
            "protocol": consumer._coordinator._generation.protocol,
            "partitions": sorted(tp.partition for tp in assigned if tp.topic == topic),
        }})


consumer = KafkaConsumer(
    bootstrap_servers=brokers.split(","),
    group_id=group,
    client_id="kafka-python-member",
    auto_offset_reset="earliest",
    session_timeout_ms=6000,
    heartbeat_interval_ms=300,
    fetch_max_wait_ms=100,
    auto_commit_interval_ms=200,
)

# kafka-python does not say whether this member led the group; it runs the
# assignment only when it does.
perform = consumer._coordinator._perform_assignment


def perform_and_note(*args, **kwargs):
    led["now"] = True
    return perform(*args, **kwargs)


consumer._coordinator._perform_assignment = perform_and_note
consumer.subscribe(topics=[topic], listener=Listener())


def wait_for_stdin():
    sys.stdin.read()
    stop.set()


threading.Thread(target=wait_for_stdin, daemon=True).start()
while not stop.is_set():
    try:
        batches = consumer.poll(timeout_ms=100)
    except Exception as e:  # noqa: BLE001 - see below
        # librdkafka's mock answers a follower's SyncGroup that arrives after
        # the leader's with INVALID_REQUEST (a real broker answers it with
        # the assignment); kafka-python raises it from poll, and polling again
        # rejoins, as an application's loop would.
        out({"restart": type(e).__name__})
        continue
    for records in batches.values():
        for r in records:
            out({"record": {"partition": r.partition, "offset": r.offset,
                            "value": r.value.decode()}})
consumer.close()
