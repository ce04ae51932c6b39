// A kafkajs 2 consumer-group member for tests/group_kafkajs.rs.
// Usage: node kafkajs_member.js BROKERS TOPIC GROUP
// Joins GROUP with kafkajs's default strategy (RoundRobinAssigner), reads
// TOPIC from the beginning with kafkajs's default auto-commit, and prints one
// JSON line per group join ({"join":...}) and per record ({"record":...}).
// Closing stdin disconnects it (LeaveGroup) and exits.
const { Kafka, logLevel } = require('kafkajs');

const [brokers, topic, group] = process.argv.slice(2);
const kafka = new Kafka({
  clientId: 'kafkajs-member',
  brokers: brokers.split(','),
  logLevel: logLevel.NOTHING,
});
const print = (o) => process.stdout.write(JSON.stringify(o) + '\n');

// librdkafka's mock answers a follower's SyncGroup that arrives after the
// leader's with INVALID_REQUEST (a real broker answers it with the
// assignment); kafkajs takes that as fatal and does not restart, so this
// member starts a fresh consumer then, as an application would.
let consumer = null;
let stopping = false;
async function start() {
  const c = kafka.consumer({
    groupId: group,
    sessionTimeout: 6000,
    rebalanceTimeout: 10000,
    heartbeatInterval: 300,
    maxWaitTimeInMs: 100,
  });
  consumer = c;
  c.on(c.events.GROUP_JOIN, ({ payload }) => {
    const partitions = payload.memberAssignment[topic] || [];
    print({
      join: {
        leader: payload.isLeader,
        protocol: payload.groupProtocol,
        partitions: [...partitions].sort((a, b) => a - b),
      },
    });
  });
  c.on(c.events.CRASH, ({ payload }) => {
    if (payload.restart || stopping) return;
    print({ restart: String(payload.error && payload.error.type) });
    c.disconnect().catch(() => {}).then(() => start()).catch(fail);
  });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await c.run({
    eachMessage: async ({ partition, message }) => {
      print({
        record: { partition, offset: Number(message.offset), value: message.value.toString() },
      });
    },
  });
}
function fail(e) {
  console.error('kafkajs member failed:', e);
  process.exit(1);
}
start().catch(fail);

process.stdin.on('end', () => {
  stopping = true;
  consumer.disconnect().then(() => process.exit(0));
});
process.stdin.resume();
