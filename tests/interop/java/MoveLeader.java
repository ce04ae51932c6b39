// Moves the leadership of one partition to another replica with Apache
// Kafka's Java admin client (kafka-clients 4.4.0), for kafkit's KIP-951 test
// (tests/real_resilience.rs): the old leader keeps running, so it answers
// the next Produce or Fetch with NOT_LEADER_OR_FOLLOWER and the new leader.
//
//   java -cp "<kafka libs>/*" tests/interop/java/MoveLeader.java BROKERS TOPIC PARTITION NEW_LEADER
//
// Puts NEW_LEADER first in the partition's replica list (an
// AlterPartitionReassignments that only reorders), waits for the
// reassignment to finish, runs a preferred leader election and waits until
// the metadata shows NEW_LEADER as the leader. Prints "leader <id>".

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewPartitionReassignment;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Node;

public class MoveLeader {
    public static void main(String[] args) throws Exception {
        String brokers = args[0];
        String topic = args[1];
        int partition = Integer.parseInt(args[2]);
        int target = Integer.parseInt(args[3]);
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
        try (Admin admin = Admin.create(props)) {
            TopicPartition tp = new TopicPartition(topic, partition);
            TopicPartitionInfo info = describe(admin, topic, partition);
            List<Integer> replicas = new ArrayList<>();
            replicas.add(target);
            for (Node n : info.replicas()) {
                if (n.id() != target) replicas.add(n.id());
            }
            admin.alterPartitionReassignments(
                    Map.of(tp, Optional.of(new NewPartitionReassignment(replicas)))).all().get();
            for (int i = 0; i < 300 && !admin.listPartitionReassignments(Set.of(tp))
                    .reassignments().get().isEmpty(); i++) {
                Thread.sleep(100);
            }
            for (int i = 0; i < 300; i++) {
                try {
                    admin.electLeaders(ElectionType.PREFERRED, Set.of(tp)).partitions().get();
                } catch (Exception e) {
                    // ELECTION_NOT_NEEDED once it is the leader; retried otherwise.
                }
                if (describe(admin, topic, partition).leader().id() == target) {
                    System.out.println("leader " + target);
                    return;
                }
                Thread.sleep(100);
            }
            throw new IllegalStateException("leadership did not move to " + target);
        }
    }

    static TopicPartitionInfo describe(Admin admin, String topic, int partition) throws Exception {
        TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        return d.partitions().get(partition);
    }
}
