// Rebalance time of Apache Kafka's Java client (kafka-clients 4.4.0), the
// Java side of kafkit's tests/rebalance_time.rs, measured the way that test
// measures kafkit.
//
//   java -cp "<kafka libs>/*" tests/interop/java/RebalancePeer.java BROKERS PROTOCOL:TOPIC:GROUP...
//
// For each PROTOCOL:TOPIC:GROUP in turn (PROTOCOL: eager = classic with the
// RangeAssignor, cooperative = classic with the CooperativeStickyAssignor,
// kip848 = group.protocol=consumer; TOPIC: an existing topic of 12
// partitions; GROUP: an unused group id): a producer thread writes one
// record to every partition every 5 ms; 3 members (one KafkaConsumer each,
// each polling in its own thread, every 20 ms at most; classic heartbeats
// every 500 ms, session 6 s; fetch max wait 100 ms; auto-commit every
// 200 ms) settle, then
//   join:  a 4th member starts;
//   leave: then member 0 closes (commit, LeaveGroup or the leave heartbeat).
// A member owns what its ConsumerRebalanceListener was given and not yet
// revoked or lost. The group has settled when its members own each
// partition exactly once, balanced (counts differ by one at most), with no
// callback for a second; "owned again" is the last callback before that.
// Prints one line per phase (times in ms from the start of the join, or
// from the moment member 0 is told to close):
//   rebalance <TAB> protocol <TAB> join|leave <TAB> owned again
//   <TAB> first record of a moved partition at its new owner
//   <TAB> every moved partition read by its new owner
//   <TAB> group-wide pause (longest time no member read anything)
//   <TAB> per-partition longest gap between reads, longest first, comma-separated
//   <TAB> the settled owners, per member by id: partitions comma-separated, members separated by /
//   <TAB> partitions not read by their owner after settling (comma-separated, may be empty)
//   <TAB> reads after settling by a member that does not own the partition
//   <TAB> partitions revoked from (or lost by) the members that stay, up to settling
// Pauses and gaps run up to the later of "owned again" and "every moved
// partition read". Kafka's own logging goes to stderr.

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class RebalancePeer {
    static final int PARTITIONS = 12;
    static final long MS = 1_000_000L;

    record Read(int member, int partition, long at) {}

    /// What one scenario shares between its threads.
    static final class Group {
        final String brokers, protocol, topic, group;
        final List<Read> reads = new ArrayList<>();
        final AtomicLong changes = new AtomicLong();
        volatile long lastChange = System.nanoTime();
        volatile boolean producing = true;

        Group(String brokers, String protocol, String topic, String group) {
            this.brokers = brokers;
            this.protocol = protocol;
            this.topic = topic;
            this.group = group;
        }

        synchronized void read(int member, int partition) {
            reads.add(new Read(member, partition, System.nanoTime()));
        }

        synchronized List<Read> reads() {
            return new ArrayList<>(reads);
        }

        void changed() {
            lastChange = System.nanoTime();
            changes.incrementAndGet();
        }
    }

    /// One KafkaConsumer, created, polled and closed in its own thread.
    static final class Member {
        final int id;
        final Group g;
        final Set<Integer> owned = new HashSet<>();
        int revoked;
        volatile boolean stop;
        final Thread thread;

        Member(int id, Group g) {
            this.id = id;
            this.g = g;
            thread = new Thread(this::run, "member-" + id);
            thread.setDaemon(true);
            thread.start();
        }

        synchronized int revoked() {
            return revoked;
        }

        synchronized Set<Integer> owned() {
            return new TreeSet<>(owned);
        }

        synchronized void own(Collection<TopicPartition> ps, boolean add) {
            for (TopicPartition p : ps) {
                if (add) owned.add(p.partition());
                else owned.remove(p.partition());
            }
            if (!add) revoked += ps.size();
            g.changed();
        }

        void run() {
            try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props(g),
                    new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                c.subscribe(List.of(g.topic), new ConsumerRebalanceListener() {
                    @Override
                    public void onPartitionsRevoked(Collection<TopicPartition> ps) {
                        own(ps, false);
                    }

                    @Override
                    public void onPartitionsAssigned(Collection<TopicPartition> ps) {
                        own(ps, true);
                    }

                    @Override
                    public void onPartitionsLost(Collection<TopicPartition> ps) {
                        own(ps, false);
                    }
                });
                while (!stop) {
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(20))) {
                        g.read(id, r.partition());
                    }
                }
            }
        }

        void close() throws InterruptedException {
            stop = true;
            thread.join(30_000);
            if (thread.isAlive()) throw new IllegalStateException("member " + id + " did not close");
        }
    }

    static Properties props(Group g) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, g.brokers);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, g.group);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "true");
        p.put(ConsumerConfig.AUTO_COMMIT_INTERVAL_MS_CONFIG, "200");
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");
        Class<?> assignor = switch (g.protocol) {
            case "eager" -> RangeAssignor.class;
            case "cooperative" -> CooperativeStickyAssignor.class;
            // KIP-848: the coordinator assigns, the broker sets the
            // heartbeat interval and session timeout.
            case "kip848" -> null;
            default -> throw new IllegalArgumentException("unknown protocol " + g.protocol);
        };
        if (assignor == null) {
            p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
        } else {
            p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
            p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, List.of(assignor));
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "6000");
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "500");
        }
        return p;
    }

    /// Writes one record to every partition every 5 ms while `g.producing`.
    static Thread produce(Group g) {
        Thread t = new Thread(() -> {
            Properties p = new Properties();
            p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, g.brokers);
            p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p,
                    new ByteArraySerializer(), new ByteArraySerializer())) {
                long i = 0;
                while (g.producing) {
                    for (int part = 0; part < PARTITIONS; part++) {
                        byte[] v = ("v" + i++).getBytes();
                        producer.send(new ProducerRecord<>(g.topic, part, null, v));
                    }
                    producer.flush();
                    try {
                        Thread.sleep(5);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                producer.close(Duration.ofSeconds(5));
            }
        }, "producer");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /// Waits until `members` own every partition once, balanced, with no
    /// change for a second; returns [since] and fills `owners`.
    static long settle(Group g, List<Member> members, Map<Integer, Set<Integer>> owners)
            throws InterruptedException {
        long deadline = System.nanoTime() + 60_000 * MS;
        long start = System.nanoTime();
        long seen = -1;
        Long since = null;
        while (true) {
            long c = g.changes.get();
            if (c != seen) {
                since = null;
                seen = c;
            }
            owners.clear();
            for (Member m : members) owners.put(m.id, m.owned());
            Set<Integer> union = new TreeSet<>();
            int total = 0, min = Integer.MAX_VALUE, max = 0;
            for (Set<Integer> o : owners.values()) {
                union.addAll(o);
                total += o.size();
                min = Math.min(min, o.size());
                max = Math.max(max, o.size());
            }
            boolean ok = total == PARTITIONS && union.size() == PARTITIONS && max <= min + 1;
            if (!ok) since = null;
            else if (since == null) since = Math.max(g.lastChange, start);
            long now = System.nanoTime();
            if (since != null && now - since >= 1_000 * MS && g.changes.get() == seen) return since;
            if (now > deadline) throw new IllegalStateException("group did not settle: " + owners);
            Thread.sleep(5);
        }
    }

    static boolean owns(Map<Integer, Set<Integer>> owners, int member, int partition) {
        Set<Integer> o = owners.get(member);
        return o != null && o.contains(partition);
    }

    /// The phase that began at `start` and settled (`owners`) at `since`,
    /// `moved` having changed hands; prints its line.
    static void observe(Group g, String phase, long start, long since,
            Map<Integer, Set<Integer>> owners, Set<Integer> moved, int revoked)
            throws InterruptedException {
        long deadline = System.nanoTime() + 20_000 * MS;
        Map<Integer, Long> movedAt = new TreeMap<>();
        while (true) {
            movedAt.clear();
            for (Read r : g.reads()) {
                if (r.at() >= start && moved.contains(r.partition()) && owns(owners, r.member(), r.partition())) {
                    movedAt.putIfAbsent(r.partition(), r.at());
                }
            }
            if (movedAt.size() == moved.size() || System.nanoTime() > deadline) break;
            Thread.sleep(10);
        }
        long firstMoved = movedAt.values().stream().min(Long::compare).orElse(start);
        long allMoved = movedAt.size() == moved.size()
                ? movedAt.values().stream().max(Long::compare).orElse(start) : System.nanoTime();
        long end = Math.max(since, allMoved);
        // A moved partition never read is also unread after `end`.
        Set<Integer> unread = new TreeSet<>();
        deadline = System.nanoTime() + 10_000 * MS;
        while (true) {
            Set<Integer> readAfter = new HashSet<>();
            for (Read r : g.reads()) {
                if (r.at() > end && owns(owners, r.member(), r.partition())) readAfter.add(r.partition());
            }
            unread.clear();
            for (int p = 0; p < PARTITIONS; p++) if (!readAfter.contains(p)) unread.add(p);
            if (unread.isEmpty() || System.nanoTime() > deadline) break;
            Thread.sleep(10);
        }
        List<Read> all = g.reads();
        long foreign = all.stream()
                .filter(r -> r.at() > since && !owns(owners, r.member(), r.partition())).count();
        List<Long> gaps = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++) {
            final int q = p;
            gaps.add(longestGap(all.stream().filter(r -> r.partition() == q).map(Read::at).toList(), start, end));
        }
        gaps.sort((a, b) -> Long.compare(b, a));
        String owned = owners.values().stream()
                .map(o -> o.stream().map(String::valueOf).collect(Collectors.joining(",")))
                .collect(Collectors.joining("/"));
        System.out.println(String.join("\t", "rebalance", g.protocol, phase,
                ms(since - start), ms(firstMoved - start), ms(allMoved - start),
                ms(longestGap(all.stream().map(Read::at).toList(), start, end)),
                gaps.stream().map(RebalancePeer::ms).collect(Collectors.joining(",")),
                owned, unread.stream().map(String::valueOf).collect(Collectors.joining(",")),
                Long.toString(foreign), Integer.toString(revoked)));
        System.out.flush();
    }

    static String ms(long nanos) {
        return Long.toString(Math.max(0, nanos) / MS);
    }

    /// The longest time between `from`, the reads in between and `to`.
    static long longestGap(List<Long> reads, long from, long to) {
        List<Long> at = reads.stream().filter(t -> t >= from && t <= to).sorted().toList();
        long last = from, gap = 0;
        for (long t : at) {
            gap = Math.max(gap, t - last);
            last = t;
        }
        return Math.max(gap, to - last);
    }

    static int revoked(List<Member> members) {
        return members.stream().mapToInt(Member::revoked).sum();
    }

    static void scenario(Group g) throws InterruptedException {
        Thread producer = produce(g);
        List<Member> members = new ArrayList<>();
        for (int id = 0; id < 3; id++) members.add(new Member(id, g));
        Map<Integer, Set<Integer>> owners = new TreeMap<>();
        settle(g, members, owners);

        int before = revoked(members);
        long joined = System.nanoTime();
        members.add(new Member(3, g));
        long since = settle(g, members, owners);
        int revoked = revoked(members) - before;
        observe(g, "join", joined, since, owners, owners.get(3), revoked);

        Set<Integer> moved = owners.get(0);
        long leaving = System.nanoTime();
        Member leaver = members.remove(0);
        before = revoked(members);
        leaver.stop = true;
        since = settle(g, members, owners);
        revoked = revoked(members) - before;
        leaver.close();
        observe(g, "leave", leaving, since, owners, moved, revoked);

        g.producing = false;
        for (Member m : members) m.stop = true;
        for (Member m : members) m.close();
        producer.join(10_000);
    }

    public static void main(String[] args) throws Exception {
        for (int i = 1; i < args.length; i++) {
            String[] s = args[i].split(":", 3);
            scenario(new Group(args[0], s[0], s[1], s[2]));
        }
    }
}
