package io.tcpulse.agent.dashboard;

import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * What the dashboard's kernel tests need besides {@link io.tcpulse.agent.kernel.KernelTest}
 * (the requirement check, agents, namespaces): the storm tool and HTTP.
 */
final class KernelFixture {
    private KernelFixture() {}

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    static String stormTool() {
        return io.tcpulse.agent.kernel.KernelTestSupport.stormTool();
    }

    static JsonObject getJson(int port, String pathAndQuery) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + pathAndQuery))
                .timeout(Duration.ofSeconds(10)).GET().build();
        HttpResponse<String> r = HTTP.send(req, HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) throw new IOException("GET " + pathAndQuery + " -> " + r.statusCode() + " " + r.body());
        return new JsonObject(r.body());
    }
}
