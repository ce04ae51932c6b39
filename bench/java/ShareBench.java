// Share-group read throughput of the Java KafkaShareConsumer (implicit
// acknowledgement), the counterpart of bench/src/bin/share_kafkit.rs: N
// consumers in one share group (one thread each) read RECORDS records; the
// time from the first record to the last is printed. The group must start at
// the records (`kafkit share-groups reset --to-earliest` before the run).
//
// java -cp "$(scripts/kafka.sh classpath)" bench/java/ShareBench.java BOOTSTRAP TOPIC GROUP CONSUMERS RECORDS
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class ShareBench {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], group = args[2];
        int consumers = Integer.parseInt(args[3]);
        long records = Long.parseLong(args[4]);
        AtomicLong total = new AtomicLong();
        AtomicLong first = new AtomicLong();
        Thread[] threads = new Thread[consumers];
        for (int i = 0; i < consumers; i++) {
            threads[i] = new Thread(() -> {
                Properties p = new Properties();
                p.put("bootstrap.servers", bootstrap);
                p.put("group.id", group);
                p.put("key.deserializer", ByteArrayDeserializer.class.getName());
                p.put("value.deserializer", ByteArrayDeserializer.class.getName());
                try (KafkaShareConsumer<byte[], byte[]> c = new KafkaShareConsumer<>(p)) {
                    c.subscribe(List.of(topic));
                    long giveUp = System.nanoTime() + 120_000_000_000L;
                    while (total.get() < records && System.nanoTime() < giveUp) {
                        int n = c.poll(Duration.ofMillis(200)).count();
                        if (n > 0) {
                            first.compareAndSet(0, System.nanoTime());
                            total.addAndGet(n);
                        }
                    }
                }
            });
            threads[i].start();
        }
        for (Thread t : threads) t.join();
        double secs = (System.nanoTime() - first.get()) / 1e9;
        System.out.printf("java share consumers=%d records=%d seconds=%.2f rate=%.0f/s%n",
            consumers, total.get(), secs, total.get() / Math.max(secs, 1e-9));
    }
}
