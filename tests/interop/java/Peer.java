// Apache Kafka's Java client (kafka-clients 4.4.0) as a peer for kafkit's
// interop tests (tests/java_interop.rs, tests/java_groups.rs).
//
// Run as a single-file program, no build tool:
//   java -cp "<kafka libs>/*" tests/interop/java/Peer.java <command> ...
// (tests/support/java.rs compiles it once with javac and runs the class,
// which starts faster; `scripts/kafka.sh classpath` prints the classpath).
//
// Commands (one output line per fact, on stdout; Kafka's own logging goes to
// stderr):
//   produce BROKERS TOPIC COUNT CODEC...
//       One idempotent producer per codec (none, gzip, snappy, lz4, zstd),
//       COUNT records each: key "key-<i % 7>" (null for every tenth record),
//       value "<codec>-<i>" (every eighth followed by "|" and 70,000
//       letters, so batches span several of the codecs' blocks), headers
//       codec=<codec>, seq=<i>, bin=00 ff <i> and a null-valued "none".
//       Batches of up to 1 MiB, 20 ms linger. Java's default partitioner
//       picks the partition. Prints, for each acknowledged record, in send order:
//         sent <TAB> codec <TAB> partition <TAB> offset <TAB> key|- <TAB> value
//   consume BROKERS TOPIC EXPECTED
//   consume-committed BROKERS TOPIC EXPECTED
//       Reads every partition of TOPIC from the beginning (no group;
//       read_uncommitted, or read_committed for consume-committed) until
//       EXPECTED records arrived or nothing came for 10 s. Prints
//         partitions <TAB> n
//       then per record
//         rec <TAB> partition <TAB> offset <TAB> key|- <TAB> value <TAB>
//         partition Java's default partitioner picks for the key (or -)
//         <TAB> headers as name=value;... (value - when null)
//   txn-produce BROKERS TOPIC TRANSACTIONAL_ID PLAN
//       A transactional producer (idempotent, acks=all) runs the
//       transactions of PLAN, a comma-separated list of c<N> (send N records,
//       commit) and a<N> (send N records, abort), in order. Record i of
//       transaction t (0-based) goes to partition i % (partitions of TOPIC),
//       no key, value "t<t>-<c|a>-<i>". Prints per transaction, once it is
//       committed or aborted:
//         txn <TAB> t <TAB> commit|abort <TAB> records
//   member BROKERS TOPIC GROUP STRATEGY
//       A classic-protocol group member (STRATEGY: range or
//       cooperative-sticky), or a KIP-848 one (STRATEGY: consumer, i.e.
//       group.protocol=consumer, the coordinator assigns), reading TOPIC from the earliest offset with
//       auto-commit. Prints JSON lines, as tests/support/child_member.rs reads
//       them: {"join":{"leader":..,"protocol":..,"generation":..,
//       "partitions":[..]}} after every rebalance (partitions: all it owns),
//       {"record":{"partition":..,"offset":..,"value":".."}} per record, and
//       {"committed":{"<partition>":offset,..}} after a "commit" line on
//       stdin (a synchronous commit). Closing stdin closes the consumer
//       (commit, LeaveGroup) and exits.
//   share BROKERS TOPIC GROUP MODE
//       A KafkaShareConsumer (KIP-932) in share group GROUP. MODE 0 or 1:
//       explicit acknowledgement, every record accepted and committed
//       (commitSync) after each poll; MODE 2: implicit acknowledgement (for
//       throughput). Prints "polling" after the first poll, then per record
//       (MODE 0 only)
//         rec <TAB> partition <TAB> offset <TAB> value <TAB> delivery count
//       and per failed acknowledgement "ackfail <TAB> partition <TAB> error".
//       Closing stdin closes the consumer (releasing nothing: all is
//       accepted) and prints "count <TAB> records <TAB> epoch ms of the
//       first record <TAB> epoch ms of the last" before exiting.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.StringJoiner;
import java.util.TreeMap;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.stream.Collectors;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.Utils;

public class Peer {
    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "produce" -> produce(args[1], args[2], Integer.parseInt(args[3]),
                    Arrays.copyOfRange(args, 4, args.length));
            case "consume" -> consume(args[1], args[2], Integer.parseInt(args[3]), "read_uncommitted");
            case "consume-committed" ->
                    consume(args[1], args[2], Integer.parseInt(args[3]), "read_committed");
            case "txn-produce" -> txnProduce(args[1], args[2], args[3], args[4]);
            case "member" -> member(args[1], args[2], args[3], args[4]);
            case "share" -> share(args[1], args[2], args[3], !args[4].equals("0"),
                    args[4].equals("2"));
            default -> throw new IllegalArgumentException("unknown command " + args[0]);
        }
        System.out.flush();
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String text(byte[] b) {
        return b == null ? "-" : new String(b, StandardCharsets.UTF_8);
    }

    static void produce(String brokers, String topic, int count, String[] codecs) throws Exception {
        for (String codec : codecs) {
            Properties p = new Properties();
            p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
            p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
            p.put(ProducerConfig.ACKS_CONFIG, "all");
            p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
            p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
            p.put(ProducerConfig.BATCH_SIZE_CONFIG, "1048576");
            p.put(ProducerConfig.CLIENT_ID_CONFIG, "java-peer-" + codec);
            List<Future<RecordMetadata>> acks = new ArrayList<>();
            List<String> keys = new ArrayList<>();
            List<String> values = new ArrayList<>();
            try (KafkaProducer<byte[], byte[]> producer =
                    new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
                for (int i = 0; i < count; i++) {
                    String key = i % 10 == 9 ? null : "key-" + (i % 7);
                    String value = codec + "-" + i + (i % 8 == 0 ? "|" + letters(i, 70_000) : "");
                    ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(
                            topic, key == null ? null : utf8(key), utf8(value));
                    r.headers().add("codec", utf8(codec));
                    r.headers().add("seq", utf8(Integer.toString(i)));
                    r.headers().add("bin", new byte[] {0, (byte) 0xff, (byte) i});
                    r.headers().add("none", null);
                    acks.add(producer.send(r));
                    keys.add(key == null ? "-" : key);
                    values.add(value);
                }
                producer.flush();
                for (int i = 0; i < count; i++) {
                    RecordMetadata m = acks.get(i).get();
                    System.out.println(String.join("\t", "sent", codec,
                            Integer.toString(m.partition()), Long.toString(m.offset()),
                            keys.get(i), values.get(i)));
                }
            }
        }
    }

    static void txnProduce(String brokers, String topic, String id, String plan) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id);
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "20000");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "java-peer-txn");
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            int partitions = producer.partitionsFor(topic).size();
            producer.initTransactions();
            String[] steps = plan.split(",");
            for (int t = 0; t < steps.length; t++) {
                boolean commit = steps[t].charAt(0) == 'c';
                int n = Integer.parseInt(steps[t].substring(1));
                producer.beginTransaction();
                for (int i = 0; i < n; i++) {
                    producer.send(new ProducerRecord<>(topic, i % partitions, null,
                            utf8("t" + t + "-" + (commit ? "c" : "a") + "-" + i)));
                }
                // Sent before the outcome, so an abort has written data to abort.
                producer.flush();
                if (commit) {
                    producer.commitTransaction();
                } else {
                    producer.abortTransaction();
                }
                System.out.println(String.join("\t", "txn", Integer.toString(t),
                        commit ? "commit" : "abort", Integer.toString(n)));
            }
        }
    }

    /** n pseudo-random letters from a small alphabet (compressible, not trivially). */
    static String letters(int seed, int n) {
        StringBuilder b = new StringBuilder(n);
        long x = seed + 1;
        for (int i = 0; i < n; i++) {
            x = x * 6364136223846793005L + 1442695040888963407L;
            b.append((char) ('a' + (int) ((x >>> 59) & 15)));
        }
        return b.toString();
    }

    static Properties consumerProps(String brokers) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");
        return p;
    }

    static void consume(String brokers, String topic, int expected, String isolation) {
        Properties p = consumerProps(brokers);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
            int n = infos.size();
            System.out.println("partitions\t" + n);
            List<TopicPartition> tps = infos.stream()
                    .map(i -> new TopicPartition(topic, i.partition()))
                    .collect(Collectors.toList());
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            int seen = 0;
            long last = System.nanoTime();
            while (seen < expected && System.nanoTime() - last < 10_000_000_000L) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    seen++;
                    last = System.nanoTime();
                    String chosen = r.key() == null ? "-"
                            : Integer.toString(Utils.toPositive(Utils.murmur2(r.key())) % n);
                    StringJoiner headers = new StringJoiner(";");
                    for (Header h : r.headers()) {
                        headers.add(h.key() + "=" + text(h.value()));
                    }
                    System.out.println(String.join("\t", "rec", Integer.toString(r.partition()),
                            Long.toString(r.offset()), text(r.key()), text(r.value()), chosen,
                            headers.toString()));
                }
            }
        }
    }

    // Which rebalance this member led and which protocol ran: Java does not
    // say, so the assignors note it (assign runs on the leader only).
    static volatile boolean led;
    static volatile String protocol = "";

    public static class NotingRange extends RangeAssignor {
        @Override
        public GroupAssignment assign(Cluster metadata, GroupSubscription subscriptions) {
            led = true;
            return super.assign(metadata, subscriptions);
        }

        @Override
        public void onAssignment(Assignment assignment, ConsumerGroupMetadata metadata) {
            protocol = name();
            super.onAssignment(assignment, metadata);
        }
    }

    public static class NotingCooperativeSticky extends CooperativeStickyAssignor {
        @Override
        public GroupAssignment assign(Cluster metadata, GroupSubscription subscriptions) {
            led = true;
            return super.assign(metadata, subscriptions);
        }

        @Override
        public void onAssignment(Assignment assignment, ConsumerGroupMetadata metadata) {
            protocol = name();
            super.onAssignment(assignment, metadata);
        }
    }

    static void member(String brokers, String topic, String group, String strategy) throws Exception {
        Class<?> assignor = switch (strategy) {
            case "range" -> NotingRange.class;
            case "cooperative-sticky" -> NotingCooperativeSticky.class;
            // KIP-848: the coordinator assigns; no client assignor, session
            // timeout or heartbeat interval (the broker's settings rule).
            case "consumer" -> null;
            default -> throw new IllegalArgumentException("unknown strategy " + strategy);
        };
        Properties p = consumerProps(brokers);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "java-member");
        if (assignor == null) {
            p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
            protocol = "consumer";
        } else {
            p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
            p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, List.of(assignor));
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "300");
        }
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "true");
        p.put(ConsumerConfig.AUTO_COMMIT_INTERVAL_MS_CONFIG, "200");
        LinkedBlockingQueue<String> commands = new LinkedBlockingQueue<>();
        Thread stdin = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in))) {
                for (String line; (line = in.readLine()) != null; ) {
                    commands.add(line.trim());
                }
            } catch (Exception e) {
                System.err.println("stdin: " + e);
            }
            commands.add("close");
        });
        stdin.setDaemon(true);
        stdin.start();
        KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {}

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> added) {
                String owned = consumer.assignment().stream()
                        .map(TopicPartition::partition).sorted()
                        .map(String::valueOf).collect(Collectors.joining(","));
                System.out.println("{\"join\":{\"leader\":" + led + ",\"protocol\":\"" + protocol
                        + "\",\"generation\":" + consumer.groupMetadata().generationId()
                        + ",\"partitions\":[" + owned + "]}}");
                System.out.flush();
                led = false;
            }

            @Override
            public void onPartitionsLost(Collection<TopicPartition> partitions) {
                System.out.println("{\"lost\":" + partitions.size() + "}");
            }
        });
        while (true) {
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                System.out.println("{\"record\":{\"partition\":" + r.partition() + ",\"offset\":"
                        + r.offset() + ",\"value\":\"" + text(r.value()) + "\"}}");
            }
            System.out.flush();
            String command = commands.poll();
            if ("commit".equals(command)) {
                consumer.commitSync();
                Map<TopicPartition, OffsetAndMetadata> done =
                        consumer.committed(consumer.assignment(), Duration.ofSeconds(30));
                Map<Integer, Long> offsets = new TreeMap<>();
                done.forEach((tp, om) -> offsets.put(tp.partition(), om == null ? -1 : om.offset()));
                System.out.println("{\"committed\":{" + offsets.entrySet().stream()
                        .map(e -> "\"" + e.getKey() + "\":" + e.getValue())
                        .collect(Collectors.joining(",")) + "}}");
                System.out.flush();
            } else if ("close".equals(command)) {
                break;
            }
        }
        consumer.close();
        System.out.println("{\"closed\":true}");
    }

    static void share(String brokers, String topic, String group, boolean quiet, boolean implicit)
            throws Exception {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put("share.acknowledgement.mode", implicit ? "implicit" : "explicit");
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        Thread stdin = new Thread(() -> {
            try {
                while (System.in.read() >= 0) { }
            } catch (Exception e) { }
            stop.set(true);
        });
        stdin.setDaemon(true);
        stdin.start();
        long count = 0, first = 0, last = 0;
        try (KafkaShareConsumer<byte[], byte[]> consumer =
                new KafkaShareConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            boolean announced = false;
            while (!stop.get()) {
                var records = consumer.poll(Duration.ofMillis(100));
                if (!announced) {
                    System.out.println("polling");
                    System.out.flush();
                    announced = true;
                }
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    if (count == 0) first = System.currentTimeMillis();
                    count++;
                    last = System.currentTimeMillis();
                    if (!implicit) {
                        consumer.acknowledge(r, AcknowledgeType.ACCEPT);
                    }
                    if (!quiet) {
                        System.out.println(String.join("\t", "rec", Integer.toString(r.partition()),
                                Long.toString(r.offset()), text(r.value()),
                                r.deliveryCount().map(Object::toString).orElse("-")));
                    }
                }
                if (!records.isEmpty() && !implicit) {
                    consumer.commitSync().forEach((tip, err) -> err.ifPresent(e ->
                            System.out.println("ackfail\t" + tip.partition() + "\t" + e)));
                }
                System.out.flush();
            }
        }
        System.out.println("count\t" + count + "\t" + first + "\t" + last);
    }
}
