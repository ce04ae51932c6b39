// A broker-side KIP-714 client telemetry plugin for tests/real_telemetry.rs.
//
// Configured on the broker as `metric.reporters=TelemetryDump` with
// `kafkit.telemetry.dump.file=/path`. Being a ClientTelemetryExporterProvider
// makes the broker offer GetTelemetrySubscriptions and PushTelemetry. Every
// push it receives is decoded with the OTLP protobuf classes shipped (shaded)
// in kafka-clients, and appended to the file as tab-separated lines:
//
//   payload  <client id>  <client instance id>  <terminating>  <content type>  <bytes>  <metrics>
//   resource <client id>  <client instance id>  <terminating>  <attributes>
//   metric   <client id>  <client instance id>  <terminating>  <name>  <kind>  <value>  <attributes>  <start ns>  <time ns>
//
// kind is gauge, sum-delta or sum-cumulative; value is the as_int or
// as_double of the point; attributes are k=v joined by commas.

import java.io.FileWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.metrics.KafkaMetric;
import org.apache.kafka.common.metrics.MetricsReporter;
import org.apache.kafka.server.telemetry.ClientTelemetryExporter;
import org.apache.kafka.server.telemetry.ClientTelemetryExporterProvider;
import org.apache.kafka.server.telemetry.ClientTelemetryPayload;
import org.apache.kafka.shaded.io.opentelemetry.proto.common.v1.KeyValue;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.AggregationTemporality;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.Metric;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.MetricsData;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.NumberDataPoint;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.ResourceMetrics;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.ScopeMetrics;

public class TelemetryDump implements MetricsReporter, ClientTelemetryExporterProvider {
    private volatile String path;

    @Override
    public void configure(Map<String, ?> configs) {
        Object p = configs.get("kafkit.telemetry.dump.file");
        path = p == null ? null : p.toString();
    }

    @Override
    public void init(List<KafkaMetric> metrics) {}

    @Override
    public void metricChange(KafkaMetric metric) {}

    @Override
    public void metricRemoval(KafkaMetric metric) {}

    @Override
    public void close() {}

    @Override
    public ClientTelemetryExporter clientTelemetryExporter() {
        return (context, payload) -> write(context.authorizableRequestContext().clientId(), payload);
    }

    private synchronized void write(String clientId, ClientTelemetryPayload payload) {
        if (path == null) {
            return;
        }
        String id = clientId + "\t" + payload.clientInstanceId();
        String term = Boolean.toString(payload.isTerminating());
        ByteBuffer data = payload.data().duplicate();
        byte[] bytes = new byte[data.remaining()];
        data.get(bytes);
        List<String> lines = new ArrayList<>();
        int count = 0;
        try {
            MetricsData decoded = MetricsData.parseFrom(bytes);
            for (ResourceMetrics rm : decoded.getResourceMetricsList()) {
                lines.add(String.join("\t", "resource", id, term,
                    joined(rm.getResource().getAttributesList())));
                for (ScopeMetrics sm : rm.getScopeMetricsList()) {
                    for (Metric m : sm.getMetricsList()) {
                        count++;
                        describe(lines, id, term, m);
                    }
                }
            }
        } catch (Exception e) {
            lines.add(String.join("\t", "error", id, term, e.toString()));
        }
        lines.add(0, String.join("\t", "payload", id, term, payload.contentType(),
            Integer.toString(bytes.length), Integer.toString(count)));
        try (FileWriter w = new FileWriter(path, true)) {
            for (String line : lines) {
                w.write(line);
                w.write('\n');
            }
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    private static String joined(List<KeyValue> attributes) {
        List<String> out = new ArrayList<>();
        for (KeyValue kv : attributes) {
            out.add(kv.getKey() + "=" + kv.getValue().getStringValue());
        }
        return String.join(",", out);
    }

    private static void describe(List<String> lines, String id, String term, Metric m) {
        String kind;
        List<NumberDataPoint> points;
        switch (m.getDataCase()) {
            case GAUGE:
                kind = "gauge";
                points = m.getGauge().getDataPointsList();
                break;
            case SUM:
                boolean delta = m.getSum().getAggregationTemporality()
                    == AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA;
                kind = delta ? "sum-delta" : "sum-cumulative";
                if (!m.getSum().getIsMonotonic()) {
                    kind += "-nonmonotonic";
                }
                points = m.getSum().getDataPointsList();
                break;
            default:
                lines.add(String.join("\t", "metric", id, term, m.getName(), m.getDataCase().toString()));
                return;
        }
        for (NumberDataPoint p : points) {
            String value = p.getValueCase() == NumberDataPoint.ValueCase.AS_INT
                ? Long.toString(p.getAsInt())
                : Double.toString(p.getAsDouble());
            lines.add(String.join("\t", "metric", id, term, m.getName(), kind, value,
                joined(p.getAttributesList()), Long.toString(p.getStartTimeUnixNano()),
                Long.toString(p.getTimeUnixNano())));
        }
    }
}
