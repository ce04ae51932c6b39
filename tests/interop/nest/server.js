// NestJS's own Kafka server transport, answering `sum` requests.
const { ServerKafka } = require('@nestjs/microservices');
const brokers = process.argv[2].split(',');
const server = new ServerKafka({
  client: { clientId: 'nest-server', brokers },
  consumer: { groupId: 'nest-server-group', sessionTimeout: 10000, heartbeatInterval: 500 },
  subscribe: { fromBeginning: true },
});
server.addHandler('sum', async (data) => {
  // What Nest's RPC exception filter sends for `throw new RpcException({...})`.
  if (!Array.isArray(data)) throw { status: 'error', message: 'expected an array' };
  return data.reduce((a, b) => a + b, 0);
}, false);
server.listen((err) => {
  if (err) { console.error('listen failed', err); process.exit(1); }
  console.log('ready');
});
process.stdin.on('end', () => server.close().then(() => process.exit(0)));
process.stdin.resume();
