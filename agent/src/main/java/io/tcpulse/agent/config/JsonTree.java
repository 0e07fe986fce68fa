package io.tcpulse.agent.config;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;

import java.io.IOException;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The config file as a tree that remembers where each key and value stood, read with
 * Jackson's streaming parser, plus typed accessors that record a problem ("line 12:
 * alerts.evaluationInterval must be a positive duration like 5m, got \"-5s\"") instead of
 * throwing, so one run reports every mistake in the file.
 */
final class JsonTree {
    private JsonTree() {}

    /** A value with its dotted path (alerts.receivers[0].url) and the line it starts on. */
    sealed interface Node permits Obj, Arr, Scalar {
        int line();

        String path();
    }

    /** An object; fields in file order, each key with its own line. */
    record Obj(int line, String path, Map<String, Node> fields, Map<String, Integer> keyLines) implements Node {
        Node get(String key) { return fields.get(key); }

        boolean has(String key) { return fields.containsKey(key); }
    }

    record Arr(int line, String path, List<Node> items) implements Node {}

    /** A string, number (Long or BigDecimal), boolean or null; raw is the text as written. */
    record Scalar(int line, String path, Object value, String raw) implements Node {}

    /** Mistakes found so far, each "line N: message". */
    static final class Problems {
        final List<String> list = new ArrayList<>();

        void at(int line, String message) { list.add("line " + line + ": " + message); }

        void at(Node n, String message) { at(n.line(), message); }

        boolean any() { return !list.isEmpty(); }
    }

    private static final JsonFactory FACTORY = JsonFactory.builder().build();

    /** Parses text holding one JSON object; syntax errors throw with their line. */
    static Obj parse(String text) throws Config.ConfigException {
        try (JsonParser p = FACTORY.createParser(text)) {
            JsonToken t = p.nextToken();
            if (t == null) throw problem(1, "the config file is empty: it must hold one JSON object");
            Node root = read(p, t, "");
            if (!(root instanceof Obj o)) {
                throw problem(root.line(), "the config file must hold one JSON object, got " + shown(root));
            }
            JsonToken extra = p.nextToken();
            if (extra != null) throw problem(line(p), "unexpected content after the top-level object");
            return o;
        } catch (JsonProcessingException e) {
            int line = e.getLocation() == null ? 1 : e.getLocation().getLineNr();
            throw problem(line, "invalid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new Config.ConfigException("cannot read the config: " + e.getMessage());
        }
    }

    private static Config.ConfigException problem(int line, String message) {
        return new Config.ConfigException(List.of("line " + line + ": " + message));
    }

    private static int line(JsonParser p) {
        return p.currentTokenLocation().getLineNr();
    }

    private static Node read(JsonParser p, JsonToken t, String path) throws IOException, Config.ConfigException {
        int line = line(p);
        switch (t) {
            case START_OBJECT -> {
                Map<String, Node> fields = new LinkedHashMap<>();
                Map<String, Integer> keyLines = new LinkedHashMap<>();
                while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                    String key = p.currentName();
                    int keyLine = line(p);
                    String child = path.isEmpty() ? key : path + "." + key;
                    if (fields.containsKey(key)) {
                        throw problem(keyLine, "duplicate key " + child + " (first set on line " + keyLines.get(key) + ")");
                    }
                    keyLines.put(key, keyLine);
                    fields.put(key, read(p, p.nextToken(), child));
                }
                return new Obj(line, path, fields, keyLines);
            }
            case START_ARRAY -> {
                List<Node> items = new ArrayList<>();
                while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                    items.add(read(p, t, path + "[" + items.size() + "]"));
                }
                return new Arr(line, path, items);
            }
            case VALUE_STRING -> {
                return new Scalar(line, path, p.getText(), quote(p.getText()));
            }
            case VALUE_NUMBER_INT -> {
                String raw = p.getText();
                Object v = p.getNumberType() == JsonParser.NumberType.BIG_INTEGER ? new BigDecimal(raw) : p.getLongValue();
                return new Scalar(line, path, v, raw);
            }
            case VALUE_NUMBER_FLOAT -> {
                return new Scalar(line, path, p.getDecimalValue(), p.getText());
            }
            case VALUE_TRUE, VALUE_FALSE -> {
                return new Scalar(line, path, t == JsonToken.VALUE_TRUE, t == JsonToken.VALUE_TRUE ? "true" : "false");
            }
            case VALUE_NULL -> {
                return new Scalar(line, path, null, "null");
            }
            default -> throw problem(line, "unexpected " + t + " at " + path);
        }
    }

    /** How a value is shown after "got": strings quoted, numbers as written. */
    static String shown(Node n) {
        if (n instanceof Obj) return "an object";
        if (n instanceof Arr) return "an array";
        return ((Scalar) n).raw();
    }

    static String quote(String s) {
        return "\"" + new String(JsonStringEncoder.getInstance().quoteAsString(s)) + "\"";
    }

    /** 1 rather than 1.0 in messages. */
    static String fmt(double d) {
        if (d == Math.rint(d) && Math.abs(d) < 1e15) return Long.toString((long) d);
        return BigDecimal.valueOf(d).stripTrailingZeros().toPlainString();
    }

    // ---- typed accessors: null (and a problem recorded) when the value breaks its rule ----

    /** The node as an object, every key checked against allowed. */
    static Obj object(Node n, Collection<String> allowed, Problems p) {
        if (!(n instanceof Obj o)) {
            p.at(n, n.path() + " must be an object, got " + shown(n));
            return null;
        }
        if (allowed != null) {
            for (var e : o.keyLines().entrySet()) {
                if (!allowed.contains(e.getKey())) {
                    String where = o.path().isEmpty() ? e.getKey() : o.path() + "." + e.getKey();
                    p.at(e.getValue(), "unknown key " + where + " (allowed: "
                            + String.join(", ", allowed.stream().sorted().toList()) + ")");
                }
            }
        }
        return o;
    }

    static Arr array(Node n, Problems p) {
        if (n instanceof Arr a) return a;
        p.at(n, n.path() + " must be an array, got " + shown(n));
        return null;
    }

    static Boolean bool(Node n, Problems p) {
        if (n instanceof Scalar s && s.value() instanceof Boolean b) return b;
        p.at(n, n.path() + " must be true or false, got " + shown(n));
        return null;
    }

    static String string(Node n, Problems p) {
        if (!(n instanceof Scalar s && s.value() instanceof String v)) {
            p.at(n, n.path() + " must be a string, got " + shown(n));
            return null;
        }
        if (v.isBlank()) {
            p.at(n, n.path() + " must not be empty");
            return null;
        }
        return v;
    }

    static Long whole(Node n, long min, long max, Problems p) {
        if (!(n instanceof Scalar s && s.value() instanceof Number num)
                || (num instanceof BigDecimal d && d.stripTrailingZeros().scale() > 0)) {
            p.at(n, n.path() + " must be a whole number, got " + shown(n));
            return null;
        }
        BigDecimal v = num instanceof BigDecimal d ? d : BigDecimal.valueOf(num.longValue());
        if (v.compareTo(BigDecimal.valueOf(min)) < 0) {
            p.at(n, n.path() + " must be at least " + min + ", got " + shown(n));
            return null;
        }
        if (v.compareTo(BigDecimal.valueOf(max)) > 0) {
            p.at(n, n.path() + " must be at most " + max + ", got " + shown(n));
            return null;
        }
        return v.longValueExact();
    }

    /**
     * A number within bounds: above min (or at least min when minInclusive), at most max
     * (max may be +Infinity).
     */
    static Double number(Node n, double min, boolean minInclusive, double max, Problems p) {
        if (!(n instanceof Scalar s && s.value() instanceof Number num)) {
            p.at(n, n.path() + " must be a number, got " + shown(n));
            return null;
        }
        double v = num.doubleValue();
        boolean ok = (minInclusive ? v >= min : v > min) && v <= max;
        if (!ok) {
            p.at(n, n.path() + " must be " + bounds(min, minInclusive, max) + ", got " + shown(n));
            return null;
        }
        return v;
    }

    static String bounds(double min, boolean minInclusive, double max) {
        if (Double.isInfinite(max)) return (minInclusive ? "at least " : "greater than ") + fmt(min);
        if (minInclusive) return "between " + fmt(min) + " and " + fmt(max);
        return "greater than " + fmt(min) + " and at most " + fmt(max);
    }

    /** A duration string; positive: zero refused too. */
    static Duration duration(Node n, boolean positive, Problems p) {
        Duration d = n instanceof Scalar s && s.value() instanceof String v ? Durations.parse(v) : null;
        if (d == null || (positive && d.isZero())) {
            p.at(n, n.path() + (positive ? " must be a positive duration like 5m, got "
                    : " must be a duration like 30s (0s for none), got ") + shown(n));
            return null;
        }
        return d;
    }
}
