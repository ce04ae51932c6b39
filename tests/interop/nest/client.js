// NestJS's own Kafka client transport calling `double` on a kafkit server.
const { ClientKafka } = require('@nestjs/microservices');
const { lastValueFrom } = require('rxjs');
const brokers = process.argv[2].split(',');
(async () => {
  const client = new ClientKafka({
    client: { clientId: 'nest-client', brokers },
    consumer: { groupId: 'nest-client-group', sessionTimeout: 10000, heartbeatInterval: 500 },
  });
  client.subscribeToResponseOf('double');
  await client.connect();
  const results = [];
  for (const n of [1, 2, 21]) {
    results.push(await lastValueFrom(client.send('double', { n })));
  }
  let error = null;
  try { await lastValueFrom(client.send('double', { n: 'x' })); } catch (e) { error = Buffer.isBuffer(e) ? e.toString() : String(e && e.message ? e.message : e); }
  console.log(JSON.stringify({ results, error }));
  await client.close();
  process.exit(0);
})().catch((e) => { console.error('client failed', e); process.exit(1); });
