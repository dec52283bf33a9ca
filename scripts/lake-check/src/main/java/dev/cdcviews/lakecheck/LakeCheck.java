package dev.cdcviews.lakecheck;

import io.delta.kernel.Scan;
import io.delta.kernel.Snapshot;
import io.delta.kernel.Table;
import io.delta.kernel.data.ColumnVector;
import io.delta.kernel.data.ColumnarBatch;
import io.delta.kernel.data.FilteredColumnarBatch;
import io.delta.kernel.data.Row;
import io.delta.kernel.defaults.engine.DefaultEngine;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.exceptions.TableNotFoundException;
import io.delta.kernel.internal.InternalScanFileUtils;
import io.delta.kernel.internal.data.ScanStateRow;
import io.delta.kernel.types.ArrayType;
import io.delta.kernel.types.BinaryType;
import io.delta.kernel.types.BooleanType;
import io.delta.kernel.types.ByteType;
import io.delta.kernel.types.DataType;
import io.delta.kernel.types.DateType;
import io.delta.kernel.types.DecimalType;
import io.delta.kernel.types.DoubleType;
import io.delta.kernel.types.FloatType;
import io.delta.kernel.types.IntegerType;
import io.delta.kernel.types.LongType;
import io.delta.kernel.types.MapType;
import io.delta.kernel.types.ShortType;
import io.delta.kernel.types.StringType;
import io.delta.kernel.types.StructField;
import io.delta.kernel.types.StructType;
import io.delta.kernel.types.TimestampNTZType;
import io.delta.kernel.types.TimestampType;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.FileStatus;
import java.io.BufferedWriter;
import java.io.File;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;

/**
 * An independent reader of Delta Lake tables for cdc-views' tests: it reads a table on local disk
 * through Delta Kernel's DefaultEngine and prints what the Kernel sees as JSON lines.
 *
 * <p>Usage: {@code LakeCheck <table-path> [--version N] [--debug]}
 *
 * <p>Output: first line {@code {"version":V,"files":F,"paths":[..],"rows":R,"partitionColumns":[...],
 * "schema":[{"name":..,"type":..}]}}, then one JSON object per row, keys in schema order.
 * Values: byte/short/int/long as JSON numbers, except longs outside +-(2^53-1) which are JSON
 * strings (so a JavaScript reader stays exact); decimals as strings from {@code
 * BigDecimal.toPlainString()} (scale kept); dates {@code YYYY-MM-DD}; timestamps (and
 * timestamp_ntz) {@code YYYY-MM-DDTHH:MM:SS.ffffffZ} in UTC; float/double as numbers (NaN and
 * infinities as strings); binary as base64 strings; structs, arrays, maps as JSON objects/arrays
 * (map entries as {@code [{"key":..,"value":..}]}).
 *
 * <p>Exit codes: 0 success; 2 the path is not a Delta table; 64 bad arguments; 1 any other
 * failure. Errors are one line on stderr; stack traces only with {@code --debug}.
 */
public final class LakeCheck {
  private static final long MAX_SAFE_INTEGER = (1L << 53) - 1;
  private static final DateTimeFormatter TS =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS'Z'");

  private final PrintWriter out;

  private LakeCheck(PrintWriter out) {
    this.out = out;
  }

  public static void main(String[] args) {
    String path = null;
    Long version = null;
    boolean debug = false;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--debug")) {
        debug = true;
      } else if (a.equals("--version")) {
        if (i + 1 >= args.length) {
          usage("--version needs a number");
        }
        try {
          version = Long.parseLong(args[++i]);
        } catch (NumberFormatException e) {
          usage("--version needs a number, got " + args[i]);
        }
        if (version < 0) {
          usage("--version needs a number >= 0");
        }
      } else if (a.startsWith("--")) {
        usage("unknown option " + a);
      } else if (path == null) {
        path = a;
      } else {
        usage("one table path only");
      }
    }
    if (path == null) {
      usage("missing table path");
    }

    PrintWriter out =
        new PrintWriter(
            new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16),
            false);
    int code;
    try {
      new LakeCheck(out).run(path, version);
      code = 0;
    } catch (NotADeltaTable e) {
      System.err.println("lake-check: not a Delta table: " + e.getMessage());
      if (debug) {
        e.printStackTrace();
      }
      code = 2;
    } catch (Throwable e) {
      Throwable root = e;
      while (root.getCause() != null && root.getCause() != root) {
        root = root.getCause();
      }
      String msg = e.getClass().getSimpleName() + ": " + oneLine(e.getMessage());
      if (root != e) {
        msg += " (cause " + root.getClass().getSimpleName() + ": " + oneLine(root.getMessage()) + ")";
      }
      System.err.println("lake-check: " + msg);
      if (debug) {
        e.printStackTrace();
      }
      code = 1;
    }
    out.flush();
    System.exit(code);
  }

  private static void usage(String why) {
    System.err.println(
        "lake-check: " + why + " (usage: LakeCheck <table-path> [--version N] [--debug])");
    System.exit(64);
  }

  private static String oneLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return (nl < 0 ? s : s.substring(0, nl)).trim();
  }

  private static final class NotADeltaTable extends Exception {
    NotADeltaTable(String msg, Throwable cause) {
      super(msg, cause);
    }
  }

  private void run(String path, Long version) throws Exception {
    File dir = new File(path).getAbsoluteFile();
    // The Kernel treats a missing _delta_log as "table not found" only on some paths (a
    // missing directory surfaces differently), so check up front for one clear answer.
    if (!new File(dir, "_delta_log").isDirectory()) {
      throw new NotADeltaTable(dir + " has no _delta_log directory", null);
    }
    Engine engine = DefaultEngine.create(new Configuration());
    Table table = Table.forPath(engine, dir.toURI().toString());
    Snapshot snapshot;
    try {
      snapshot =
          version == null
              ? table.getLatestSnapshot(engine)
              : table.getSnapshotAsOfVersion(engine, version);
    } catch (TableNotFoundException e) {
      throw new NotADeltaTable(oneLine(e.getMessage()), e);
    }

    StructType schema = snapshot.getSchema();
    Scan scan = snapshot.getScanBuilder().build();
    Row scanState = scan.getScanState(engine);
    StructType physicalReadSchema = ScanStateRow.getPhysicalDataReadSchema(engine, scanState);

    // Rows are buffered so the header (which carries counts) can be printed first.
    List<String> rows = new ArrayList<>();
    long files = 0;
    List<String> paths = new ArrayList<>();
    try (CloseableIterator<FilteredColumnarBatch> scanFiles = scan.getScanFiles(engine)) {
      while (scanFiles.hasNext()) {
        try (CloseableIterator<Row> scanFileRows = scanFiles.next().getRows()) {
          while (scanFileRows.hasNext()) {
            Row scanFile = scanFileRows.next();
            files++;
            FileStatus status = InternalScanFileUtils.getAddFileStatus(scanFile);
            paths.add(status.getPath());
            CloseableIterator<ColumnarBatch> physical =
                engine
                    .getParquetHandler()
                    .readParquetFiles(
                        singleton(status), physicalReadSchema, Optional.empty());
            try (CloseableIterator<FilteredColumnarBatch> logical =
                Scan.transformPhysicalData(engine, scanState, scanFile, physical)) {
              while (logical.hasNext()) {
                collect(logical.next(), schema, rows);
              }
            }
          }
        }
      }
    }

    StringBuilder head = new StringBuilder();
    head.append("{\"version\":").append(snapshot.getVersion());
    head.append(",\"files\":").append(files);
    head.append(",\"rows\":").append(rows.size());
    head.append(",\"paths\":[");
    for (int i = 0; i < paths.size(); i++) {
      if (i > 0) {
        head.append(',');
      }
      str(head, paths.get(i));
    }
    head.append("]");
    head.append(",\"partitionColumns\":[");
    List<String> parts = snapshot.getPartitionColumnNames();
    for (int i = 0; i < parts.size(); i++) {
      if (i > 0) {
        head.append(',');
      }
      str(head, parts.get(i));
    }
    head.append("],\"schema\":[");
    for (int i = 0; i < schema.length(); i++) {
      StructField f = schema.at(i);
      if (i > 0) {
        head.append(',');
      }
      head.append("{\"name\":");
      str(head, f.getName());
      head.append(",\"type\":");
      str(head, typeName(f.getDataType()));
      head.append(",\"nullable\":").append(f.isNullable()).append('}');
    }
    head.append("]}");
    out.println(head);
    for (String r : rows) {
      out.println(r);
    }
  }

  /** The type's name as Delta's schemaString spells primitives (Kernel's toString differs for decimals). */
  private static String typeName(DataType t) {
    if (t instanceof DecimalType) {
      DecimalType d = (DecimalType) t;
      return "decimal(" + d.getPrecision() + "," + d.getScale() + ")";
    }
    return t.toString();
  }

  private static <T> CloseableIterator<T> singleton(T item) {
    return new CloseableIterator<T>() {
      private boolean done;

      @Override
      public boolean hasNext() {
        return !done;
      }

      @Override
      public T next() {
        if (done) {
          throw new java.util.NoSuchElementException();
        }
        done = true;
        return item;
      }

      @Override
      public void close() {}
    };
  }

  private static void collect(FilteredColumnarBatch fb, StructType schema, List<String> rows) {
    ColumnarBatch batch = fb.getData();
    Optional<ColumnVector> sel = fb.getSelectionVector();
    StructType batchSchema = batch.getSchema();
    int[] ordinals = new int[schema.length()];
    for (int c = 0; c < schema.length(); c++) {
      ordinals[c] = batchSchema.indexOf(schema.at(c).getName());
      if (ordinals[c] < 0) {
        throw new IllegalStateException(
            "column " + schema.at(c).getName() + " missing from the Kernel's batch " + batchSchema);
      }
    }
    for (int r = 0; r < batch.getSize(); r++) {
      if (sel.isPresent() && (sel.get().isNullAt(r) || !sel.get().getBoolean(r))) {
        continue;
      }
      StringBuilder sb = new StringBuilder(256);
      sb.append('{');
      for (int c = 0; c < schema.length(); c++) {
        StructField f = schema.at(c);
        if (c > 0) {
          sb.append(',');
        }
        str(sb, f.getName());
        sb.append(':');
        value(sb, f.getDataType(), batch.getColumnVector(ordinals[c]), r);
      }
      sb.append('}');
      rows.add(sb.toString());
    }
  }

  private static void value(StringBuilder sb, DataType t, ColumnVector v, int r) {
    if (v.isNullAt(r)) {
      sb.append("null");
    } else if (t instanceof LongType) {
      long x = v.getLong(r);
      if (x > MAX_SAFE_INTEGER || x < -MAX_SAFE_INTEGER) {
        sb.append('"').append(x).append('"');
      } else {
        sb.append(x);
      }
    } else if (t instanceof IntegerType) {
      sb.append(v.getInt(r));
    } else if (t instanceof ShortType) {
      sb.append(v.getShort(r));
    } else if (t instanceof ByteType) {
      sb.append(v.getByte(r));
    } else if (t instanceof BooleanType) {
      sb.append(v.getBoolean(r));
    } else if (t instanceof StringType) {
      str(sb, v.getString(r));
    } else if (t instanceof DecimalType) {
      sb.append('"').append(v.getDecimal(r).toPlainString()).append('"');
    } else if (t instanceof DateType) {
      sb.append('"').append(LocalDate.ofEpochDay(v.getInt(r))).append('"');
    } else if (t instanceof TimestampType || t instanceof TimestampNTZType) {
      long micros = v.getLong(r);
      LocalDateTime ts =
          LocalDateTime.ofEpochSecond(
              Math.floorDiv(micros, 1_000_000L),
              (int) Math.floorMod(micros, 1_000_000L) * 1000,
              ZoneOffset.UTC);
      sb.append('"').append(TS.format(ts)).append('"');
    } else if (t instanceof DoubleType) {
      floating(sb, v.getDouble(r));
    } else if (t instanceof FloatType) {
      float f = v.getFloat(r);
      if (Float.isNaN(f) || Float.isInfinite(f)) {
        sb.append('"').append(f).append('"');
      } else {
        sb.append(f);
      }
    } else if (t instanceof BinaryType) {
      sb.append('"').append(Base64.getEncoder().encodeToString(v.getBinary(r))).append('"');
    } else if (t instanceof StructType) {
      StructType st = (StructType) t;
      sb.append('{');
      for (int i = 0; i < st.length(); i++) {
        if (i > 0) {
          sb.append(',');
        }
        str(sb, st.at(i).getName());
        sb.append(':');
        value(sb, st.at(i).getDataType(), v.getChild(i), r);
      }
      sb.append('}');
    } else if (t instanceof ArrayType) {
      io.delta.kernel.data.ArrayValue a = v.getArray(r);
      DataType et = ((ArrayType) t).getElementType();
      sb.append('[');
      for (int i = 0; i < a.getSize(); i++) {
        if (i > 0) {
          sb.append(',');
        }
        value(sb, et, a.getElements(), i);
      }
      sb.append(']');
    } else if (t instanceof MapType) {
      io.delta.kernel.data.MapValue m = v.getMap(r);
      MapType mt = (MapType) t;
      sb.append('[');
      for (int i = 0; i < m.getSize(); i++) {
        if (i > 0) {
          sb.append(',');
        }
        sb.append("{\"key\":");
        value(sb, mt.getKeyType(), m.getKeys(), i);
        sb.append(",\"value\":");
        value(sb, mt.getValueType(), m.getValues(), i);
        sb.append('}');
      }
      sb.append(']');
    } else {
      throw new IllegalStateException("lake-check cannot print type " + t);
    }
  }

  private static void floating(StringBuilder sb, double d) {
    if (Double.isNaN(d) || Double.isInfinite(d)) {
      sb.append('"').append(d).append('"');
    } else {
      sb.append(d);
    }
  }

  private static void str(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"':
          sb.append("\\\"");
          break;
        case '\\':
          sb.append("\\\\");
          break;
        case '\n':
          sb.append("\\n");
          break;
        case '\r':
          sb.append("\\r");
          break;
        case '\t':
          sb.append("\\t");
          break;
        case '\b':
          sb.append("\\b");
          break;
        case '\f':
          sb.append("\\f");
          break;
        default:
          if (c < 0x20 || c == 0x2028 || c == 0x2029) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
      }
    }
    sb.append('"');
  }
}
