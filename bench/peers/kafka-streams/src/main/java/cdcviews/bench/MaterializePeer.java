package cdcviews.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The Kafka Streams peer of cdc-views' materialize benchmark: Debezium JSON envelope (with or without
 * the JsonConverter schema wrapper) → key → KTable in a RocksDB store. Two durability modes, matched
 * by the runner with cdc-views' Redis: {@code logged} keeps the store's changelog topic (Kafka
 * Streams' default; cdc-views runs against Redis with AOF {@code appendfsync everysec}), {@code
 * unlogged} disables it (cdc-views against Redis without persistence).
 *
 * <p>Prints a JSON line with {@code "caughtUp":true} the moment every partition has been processed up
 * to the end offset it had at start (the runner's clock stops there, the same rule as cdc-views'
 * "caught up" line), then closes (flushing the store cache and committing) and prints a second line
 * with the close and clean-up times, which are reported but not timed.
 *
 * <pre>java -Xms… -Xmx… -jar kafka-streams-peer.jar &lt;brokers&gt; &lt;topic&gt; &lt;applicationId&gt; &lt;threads&gt; &lt;stateDir&gt;
 *     &lt;logged|unlogged&gt; &lt;commit.interval.ms&gt; &lt;statestore.cache.max.bytes&gt;</pre>
 */
public final class MaterializePeer {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The row to keep: the envelope's after image (null for a delete or a tombstone, which removes the key). */
  static byte[] afterImage(byte[] value) {
    if (value == null || value.length == 0) return null;
    try {
      JsonNode doc = JSON.readTree(value);
      // JsonConverter with schemas.enable=true wraps the envelope as {"schema":…,"payload":…}.
      JsonNode env = doc.has("schema") && doc.has("payload") ? doc.get("payload") : doc;
      String op = env.path("op").asText();
      if (op.equals("d")) return null;
      JsonNode after = env.get("after");
      return after == null || after.isNull() ? null : JSON.writeValueAsBytes(after);
    } catch (java.io.IOException e) {
      return null; // the benchmark topic has no bad records
    }
  }

  /** The KTable's store: RocksDB (Kafka Streams' default) with byte-array serdes. */
  private static Materialized<Bytes, byte[], KeyValueStore<Bytes, byte[]>> store() {
    return Materialized.<Bytes, byte[], KeyValueStore<Bytes, byte[]>>as("rows")
        .withKeySerde(Serdes.Bytes()).withValueSerde(Serdes.ByteArray());
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 8 || !(args[5].equals("logged") || args[5].equals("unlogged"))) {
      System.err.println("usage: MaterializePeer <brokers> <topic> <applicationId> <threads> <stateDir> <logged|unlogged> <commit.interval.ms> <statestore.cache.max.bytes>");
      System.exit(2);
    }
    String brokers = args[0], topic = args[1], appId = args[2];
    int threads = Integer.parseInt(args[3]);
    Path stateDir = Path.of(args[4]);
    boolean logged = args[5].equals("logged");
    long commitIntervalMs = Long.parseLong(args[6]);
    long cacheBytes = Long.parseLong(args[7]);
    long t0 = System.nanoTime();

    Map<TopicPartition, Long> ends;
    Properties ap = new Properties();
    ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    try (Admin admin = Admin.create(ap)) {
      var desc = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
      Map<TopicPartition, OffsetSpec> req = desc.partitions().stream()
          .collect(Collectors.toMap(p -> new TopicPartition(topic, p.partition()), p -> OffsetSpec.latest()));
      ends = admin.listOffsets(req).all().get().entrySet().stream()
          .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
    }
    long total = ends.values().stream().mapToLong(Long::longValue).sum();

    // Next offset to process per partition, written by the stream threads.
    Map<Integer, Long> next = new ConcurrentHashMap<>();
    AtomicLong processed = new AtomicLong();
    CountDownLatch caughtUp = new CountDownLatch(1);
    Map<Integer, Long> endByPartition = new HashMap<>();
    ends.forEach((tp, off) -> endByPartition.put(tp.partition(), off));
    Runnable check = () -> {
      for (var e : endByPartition.entrySet()) {
        if (e.getValue() > 0 && next.getOrDefault(e.getKey(), 0L) < e.getValue()) return;
      }
      caughtUp.countDown();
    };

    StreamsBuilder builder = new StreamsBuilder();
    builder.stream(topic, Consumed.with(Serdes.Bytes(), Serdes.ByteArray()))
        .processValues(() -> new FixedKeyProcessor<Bytes, byte[], byte[]>() {
          private FixedKeyProcessorContext<Bytes, byte[]> ctx;

          @Override
          public void init(FixedKeyProcessorContext<Bytes, byte[]> context) {
            this.ctx = context;
          }

          @Override
          public void process(FixedKeyRecord<Bytes, byte[]> record) {
            ctx.forward(record.withValue(afterImage(record.value())));
            var md = ctx.recordMetadata().orElseThrow();
            next.put(md.partition(), md.offset() + 1);
            if (processed.incrementAndGet() % 10_000 == 0) check.run();
          }
        })
        .toTable(logged ? store() : store().withLoggingDisabled());

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitIntervalMs);
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, cacheBytes);
    Files.createDirectories(stateDir);
    KafkaStreams streams = new KafkaStreams(builder.build(), p);
    streams.start();
    long tStarted = System.nanoTime();
    while (!caughtUp.await(200, TimeUnit.MILLISECONDS)) {
      check.run();
      if (streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.NOT_RUNNING) {
        System.err.println("kafka streams stopped: " + streams.state());
        System.exit(1);
      }
    }
    long tCaught = System.nanoTime();
    double caughtSecs = (tCaught - t0) / 1e9;
    System.out.printf("{\"caughtUp\":true,\"records\":%d,\"processed\":%d,\"threads\":%d,\"changelog\":%b,\"commitIntervalMs\":%d,\"cacheMaxBytes\":%d,\"maxHeapMiB\":%d,\"secondsToCaughtUp\":%.3f,\"secondsStartup\":%.3f}%n",
        total, processed.get(), threads, logged, commitIntervalMs, cacheBytes, Runtime.getRuntime().maxMemory() >> 20, caughtSecs, (tStarted - t0) / 1e9);
    System.out.flush();
    streams.close(Duration.ofSeconds(120)); // flushes the store cache and commits
    long tClosed = System.nanoTime();
    streams.cleanUp();
    System.out.printf("{\"closed\":true,\"secondsToClosed\":%.3f,\"secondsToCleanedUp\":%.3f}%n", (tClosed - t0) / 1e9, (System.nanoTime() - t0) / 1e9);
    System.exit(0);
  }
}
