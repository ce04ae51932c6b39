// The Java client's (kafka-clients) benchmark program for kafkit's harness
// (bench/run.py): same arguments, records and output as the Rust clients
// (bench/src/lib.rs). Run as a single-file program:
//   java -cp "$(scripts/kafka.sh classpath)" bench/java/Bench.java --mode produce ...

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class Bench {
    static String mode = "produce", brokers = "127.0.0.1:9092", topic = "bench", compression = "none",
            acks = "1", group = "bench-group";
    static int size = 100, count = 100000, partitions = 1, linger = 5, txnSize = 1000;
    static long rate = 10000;
    static boolean idempotence = false;

    public static void main(String[] argv) throws Exception {
        for (int i = 0; i + 1 < argv.length; i += 2) {
            String v = argv[i + 1];
            switch (argv[i]) {
                case "--mode" -> mode = v;
                case "--brokers" -> brokers = v;
                case "--topic" -> topic = v;
                case "--size" -> size = Integer.parseInt(v);
                case "--count" -> count = Integer.parseInt(v);
                case "--compression" -> compression = v;
                case "--acks" -> acks = v;
                case "--idempotence" -> idempotence = Boolean.parseBoolean(v);
                case "--partitions" -> partitions = Integer.parseInt(v);
                case "--rate" -> rate = Long.parseLong(v);
                case "--group" -> group = v;
                case "--linger-ms" -> linger = Integer.parseInt(v);
                case "--replication" -> { }
                case "--txn-size" -> txnSize = Math.max(1, Integer.parseInt(v));
                default -> throw new IllegalArgumentException("unknown flag " + argv[i]);
            }
        }
        switch (mode) {
            case "produce" -> produce();
            case "consume" -> consume();
            case "e2e" -> e2e();
            case "group" -> group();
            case "txn" -> txn();
            default -> throw new IllegalArgumentException("unknown mode " + mode);
        }
        System.exit(0);
    }

    // Mirrors bench/src/lib.rs: half a template, half xorshift letters.
    static byte[][] values() {
        long state = 0x9e3779b97f4a7c15L;
        byte[] template = "{\"event\":\"page_view\",\"site\":\"example.org\",\"path\":\"/a/b/c\"}".getBytes();
        byte[][] out = new byte[512][];
        for (int i = 0; i < out.length; i++) {
            byte[] v = new byte[size];
            int n = 0;
            for (; n < size / 2; n++) v[n] = template[n % template.length];
            for (; n < size; n++) {
                state ^= state << 13;
                state ^= state >>> 7;
                state ^= state << 17;
                v[n] = (byte) ('a' + Long.remainderUnsigned(state, 26));
            }
            out[i] = v;
        }
        return out;
    }

    static byte[] value(byte[][] vs, int i) {
        return vs[(int) (((long) i * 7) % vs.length)];
    }

    static long startWindow() {
        System.out.println("START");
        System.out.flush();
        return System.nanoTime();
    }

    static long nowNs() {
        java.time.Instant t = java.time.Instant.now();
        return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }

    static void report(int records, long bytes, long startNs, long[] lat, Double startupMs) {
        double secs = (System.nanoTime() - startNs) / 1e9;
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT,
                "{\"client\":\"java\",\"mode\":\"%s\",\"records\":%d,\"bytes\":%d,\"elapsed_s\":%.6f,\"records_per_s\":%.1f,\"mb_per_s\":%.3f",
                mode, records, bytes, secs, records / secs, bytes / secs / 1e6));
        if (lat != null && lat.length > 0) {
            Arrays.sort(lat);
            b.append(String.format(Locale.ROOT, ",\"p50_us\":%d,\"p99_us\":%d,\"p999_us\":%d",
                    pct(lat, 0.5), pct(lat, 0.99), pct(lat, 0.999)));
        }
        if (startupMs != null) b.append(String.format(Locale.ROOT, ",\"startup_ms\":%.1f", startupMs));
        b.append('}');
        System.out.println(b);
        System.out.flush();
    }

    static long pct(long[] sorted, double p) {
        int idx = (int) Math.ceil(sorted.length * p);
        idx = Math.max(1, Math.min(sorted.length, idx));
        return sorted[idx - 1];
    }

    static KafkaProducer<byte[], byte[]> producer() {
        Properties p = new Properties();
        p.put("bootstrap.servers", brokers);
        p.put("acks", acks);
        p.put("enable.idempotence", Boolean.toString(idempotence));
        p.put("compression.type", compression);
        p.put("linger.ms", Integer.toString(linger));
        p.put("batch.size", Integer.toString(256 * 1024));
        p.put("max.in.flight.requests.per.connection", "5");
        p.put("buffer.memory", Long.toString(512L * 1024 * 1024));
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    static long send(KafkaProducer<byte[], byte[]> producer, byte[][] vs, int n) throws Exception {
        AtomicReference<Exception> failed = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(n);
        long bytes = 0;
        for (int i = 0; i < n; i++) {
            byte[] v = value(vs, i);
            bytes += v.length;
            producer.send(new ProducerRecord<>(topic, v), (m, e) -> {
                if (e != null) failed.set(e);
                done.countDown();
            });
        }
        done.await();
        if (failed.get() != null) throw failed.get();
        return bytes;
    }

    static void produce() throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = producer()) {
            byte[][] vs = values();
            send(producer, vs, Math.max(100, Math.min(5000, count / 50)));
            long start = startWindow();
            long bytes = send(producer, vs, count);
            report(count, bytes, start, null, null);
        }
    }

    // Transactions of txnSize records; the percentiles are commit latencies.
    static void txn() throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", brokers);
        p.put("transactional.id", "bench-" + topic + "-" + ProcessHandle.current().pid());
        p.put("linger.ms", Integer.toString(linger));
        p.put("batch.size", Integer.toString(256 * 1024));
        p.put("buffer.memory", Long.toString(512L * 1024 * 1024));
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            producer.initTransactions();
            byte[][] vs = values();
            long[] warm = new long[1];
            oneTxn(producer, vs, Math.min(txnSize, count), warm, 0);
            long start = startWindow();
            int txns = (count + txnSize - 1) / txnSize;
            long[] commits = new long[txns];
            long bytes = 0;
            int sent = 0;
            for (int t = 0; t < txns; t++) {
                int n = Math.min(txnSize, count - sent);
                bytes += oneTxn(producer, vs, n, commits, t);
                sent += n;
            }
            report(count, bytes, start, commits, null);
        }
    }

    static long oneTxn(KafkaProducer<byte[], byte[]> producer, byte[][] vs, int n, long[] commits, int slot)
            throws Exception {
        producer.beginTransaction();
        AtomicReference<Exception> failed = new AtomicReference<>();
        long bytes = 0;
        for (int i = 0; i < n; i++) {
            byte[] v = value(vs, i);
            bytes += v.length;
            producer.send(new ProducerRecord<>(topic, v), (m, e) -> {
                if (e != null) failed.set(e);
            });
        }
        long t = System.nanoTime();
        producer.commitTransaction();
        commits[slot] = (System.nanoTime() - t) / 1000;
        if (failed.get() != null) throw failed.get();
        return bytes;
    }

    static KafkaConsumer<byte[], byte[]> consumer(String groupId) {
        Properties p = new Properties();
        p.put("bootstrap.servers", brokers);
        if (groupId != null) p.put("group.id", groupId);
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    static List<TopicPartition> all() {
        List<TopicPartition> tps = new ArrayList<>();
        for (int i = 0; i < partitions; i++) tps.add(new TopicPartition(topic, i));
        return tps;
    }

    static void consume() {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(null)) {
            consumer.partitionsFor(topic);
            long start = startWindow();
            consumer.assign(all());
            consumer.seekToBeginning(all());
            int records = 0;
            long bytes = 0;
            while (records < count) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    records++;
                    bytes += r.value() == null ? 0 : r.value().length;
                }
            }
            report(records, bytes, start, null, null);
        }
    }

    static void e2e() throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = producer();
             KafkaConsumer<byte[], byte[]> consumer = consumer(null)) {
            producer.partitionsFor(topic);
            consumer.assign(all());
            consumer.seekToBeginning(all());
            long[] lat = new long[count];
            long[] bytes = new long[1];
            AtomicReference<Exception> readFailed = new AtomicReference<>();
            Thread reader = new Thread(() -> {
                try {
                    int got = 0;
                    while (got < count) {
                        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                            long now = nowNs();
                            byte[] v = r.value();
                            long sent = ByteBuffer.wrap(v, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
                            if (got < count) lat[got++] = (now - sent) / 1000;
                            bytes[0] += v.length;
                        }
                    }
                } catch (Exception e) {
                    readFailed.set(e);
                }
            });
            reader.start();
            byte[][] vs = values();
            AtomicReference<Exception> failed = new AtomicReference<>();
            CountDownLatch done = new CountDownLatch(count);
            long start = startWindow();
            int sent = 0;
            while (sent < count) {
                long due = Math.min(count, (long) ((System.nanoTime() - start) / 1e9 * rate));
                for (; sent < due; sent++) {
                    byte[] v = value(vs, sent).clone();
                    ByteBuffer.wrap(v, 0, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(nowNs());
                    producer.send(new ProducerRecord<>(topic, v), (m, e) -> {
                        if (e != null) failed.set(e);
                        done.countDown();
                    });
                }
                Thread.sleep(1);
            }
            done.await();
            reader.join();
            if (failed.get() != null) throw failed.get();
            if (readFailed.get() != null) throw readFailed.get();
            report(count, bytes[0], start, lat, null);
        }
    }

    static void group() {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(group)) {
            consumer.partitionsFor(topic);
            long start = startWindow();
            consumer.subscribe(List.of(topic));
            long bytes = -1;
            while (bytes < 0) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    if (bytes < 0) bytes = r.value() == null ? 0 : r.value().length;
                }
            }
            double ms = (System.nanoTime() - start) / 1e6;
            report(1, bytes, start, null, ms);
        }
    }
}
