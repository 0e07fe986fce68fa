package io.tcpulse.agent.alert;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What a rule measured for one culprit in one evaluation.
 *
 * @param identity    labels naming the culprit; with the rule name they identify the alert
 *                    (netns, addr, port, remote, pid, comm, unit)
 * @param details     more labels that describe it but may change while it fires (the owner
 *                    of a listener once it is known); empty values are left out
 * @param value       the figure compared with the thresholds (NaN: nothing to say)
 * @param condition   for verdict rules: whether the condition holds; null compares value
 *                    with threshold and clearBelow
 * @param summary     one line for a pager
 * @param description a sentence with the figures
 */
public record Sample(SortedMap<String, String> identity, SortedMap<String, String> details, double value,
                     Boolean condition, String summary, String description) {

    public Sample {
        SortedMap<String, String> id = Collections.unmodifiableSortedMap(new TreeMap<>(identity));
        SortedMap<String, String> d = new TreeMap<>();
        details.forEach((k, v) -> { if (v != null && !v.isEmpty() && !id.containsKey(k)) d.put(k, v); });
        identity = id;
        details = Collections.unmodifiableSortedMap(d);
    }

    /** key, value, key, value...; null and empty values dropped. */
    static SortedMap<String, String> labels(Object... pairs) {
        SortedMap<String, String> m = new TreeMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            Object v = pairs[i + 1];
            if (v == null) continue;
            String s = v.toString();
            if (!s.isEmpty()) m.put((String) pairs[i], s);
        }
        return m;
    }

    /** Annotations as receivers get them. */
    Map<String, String> annotations() {
        Map<String, String> a = new LinkedHashMap<>();
        a.put("summary", summary);
        a.put("description", description);
        return a;
    }
}
